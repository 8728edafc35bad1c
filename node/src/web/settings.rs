//! Peers (the nodes this one remembers, and the relays it follows with
//! their state) and Settings (the node's DID and ticket, whose trust
//! decides, and the owner's allow and block lists, changed at once).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::auth::Viewer;
use super::layout::{self, Nav};
use crate::api::peers::met as api_met;
use crate::api::routes::{market_stats, node as node_summary};
use crate::federation::proof::SplitViewProof;
use crate::node::{Node, TrustList};

/// The Peers page.
pub async fn peers(viewer: Viewer, State(node): State<Node>) -> Response {
    let peers = api_met(State(node.clone())).await.map(|j| j.0);
    let paired = node.federation().peers();
    let split_views = node.state().split_views();
    let stats = market_stats(State(node)).await.map(|j| j.0);
    let content = html! {
        h1 { "Peers" }
        section aria-labelledby="relays" {
            h2 #relays { "Relays followed" }
            @match &stats {
                Ok(stats) if !stats.relays.is_empty() => {
                    table {
                        thead { tr { th scope="col" { "Relay" } th scope="col" { "State" } th scope="col" { "Events" } } }
                        tbody {
                            @for relay in &stats.relays {
                                tr {
                                    td { code { (relay.url) } }
                                    td { (relay.status.as_ref().map_or("not followed now", |s| s.phase.as_str())) }
                                    td { (relay.status.as_ref().map_or(0, |s| s.events)) }
                                }
                            }
                        }
                    }
                }
                Ok(_) => p { "No relays are followed." },
                Err(e) => p.notice.warning { (e.body().error) },
            }
        }
        @if let Ok(proofs) = &split_views {
            @if !proofs.is_empty() {
                section aria-labelledby="alarms" {
                    h2 #alarms { "Alarms" }
                    ul { @for (_, proof) in proofs {
                        li.notice.error { (serde_json::from_str::<SplitViewProof>(proof).map(|p| p.alarm()).unwrap_or_else(|_| "a split-view proof that does not read".into())) }
                    } }
                }
            }
        }
        section aria-labelledby="paired" {
            h2 #paired { "Paired nodes" }
            @match &paired {
                Ok(paired) if !paired.is_empty() => {
                    ul { @for peer in paired {
                        li { code { (peer.did) } " " (if peer.connected { "connected" } else { "not connected now" }) }
                    } }
                }
                Ok(_) => p { "None: pair with another node with " code { "archy peer invite" } " there and " code { "archy peer join" } " here." },
                Err(e) => p.notice.warning { (e.to_string()) },
            }
        }
        section aria-labelledby="nodes" {
            h2 #nodes { "Nodes met" }
            @match &peers {
                Ok(peers) if !peers.is_empty() => {
                    ul { @for peer in peers { li { code { (peer.did) } } } }
                }
                Ok(_) => p { "None yet: nodes are remembered once this node fetches from them." },
                Err(e) => p.notice.warning { (e.body().error) },
            }
        }
    };
    layout::page("Peers", Nav::Peers, Some(&viewer), content).into_response()
}

/// The Settings page.
pub async fn page(viewer: Viewer, State(node): State<Node>) -> Response {
    let summary = node_summary(State(node.clone())).await.map(|j| j.0);
    let lists = node.trust_lists();
    let owner = node.trust().owner();
    let content = html! {
        h1 { "Settings" }
        section aria-labelledby="identity" {
            h2 #identity { "This node" }
            @match &summary {
                Ok(summary) => {
                    dl {
                        dt { "DID" } dd { code { (summary.did) } }
                        dt { "Ticket" } dd { code.hash { (summary.ticket) } }
                        dt { "Version" } dd { (summary.version) }
                        dt { "Data directory" } dd { code { (summary.data_dir) } }
                    }
                }
                Err(e) => p.notice.warning { (e.body().error) },
            }
        }
        section aria-labelledby="owner" {
            h2 #owner { "Whose trust decides" }
            p { "Scores are from the point of view of " code { (owner.npub()) } "." }
        }
        section aria-labelledby="lists" {
            h2 #lists { "Allowed and blocked publishers" }
            @match &lists {
                Ok(lists) if !lists.is_empty() => {
                    ul.lists {
                        @for (did, list) in lists {
                            li {
                                code { (did) } " "
                                strong { (match list { TrustList::Allow => "allowed", TrustList::Block => "blocked" }) }
                                form.inline method="post" action="/settings/trust" {
                                    (layout::csrf_field(&viewer))
                                    input type="hidden" name="did" value=(did);
                                    input type="hidden" name="list" value="none";
                                    button type="submit" aria-label=(format!("Take {did} off the lists")) { "Remove" }
                                }
                            }
                        }
                    }
                }
                Ok(_) => p { "No publisher is on either list." },
                Err(e) => p.notice.warning { (e.to_string()) },
            }
            form method="post" action="/settings/trust" {
                (layout::csrf_field(&viewer))
                label for="did" { "Publisher DID" }
                input #did type="text" name="did" required placeholder="did:key:z6Mk…";
                label for="list" { "List" }
                select #list name="list" {
                    option value="allow" { "Allow: trust it" }
                    option value="block" { "Block: never install it" }
                }
                button type="submit" { "Save" }
            }
        }
    };
    layout::page("Settings", Nav::Settings, Some(&viewer), content).into_response()
}

/// What the lists form posts.
#[derive(Deserialize)]
pub struct ListForm {
    csrf: Option<String>,
    did: String,
    /// `allow`, `block` or `none`.
    list: String,
}

/// Puts a publisher on a list, or off both.
pub async fn trust_list(
    viewer: Viewer,
    State(node): State<Node>,
    Form(form): Form<ListForm>,
) -> Response {
    if let Err(refused) = viewer.check(form.csrf.as_deref()) {
        return refused.into_response();
    }
    let Ok(did) = form.did.trim().parse::<archy_trust::Did>() else {
        return layout::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is not a DID",
            &format!(
                "'{}' is not a publisher's DID (did:key:z6Mk…). Copy it from the app's page.",
                form.did
            ),
        );
    };
    let list = match form.list.as_str() {
        "allow" => Some(TrustList::Allow),
        "block" => Some(TrustList::Block),
        _ => None,
    };
    match node.set_trust_list(&did, list) {
        Ok(()) => Redirect::to("/settings").into_response(),
        Err(e) => layout::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The lists were not changed",
            &e.to_string(),
        ),
    }
}
