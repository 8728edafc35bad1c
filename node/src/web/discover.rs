//! Discover: the market as a grid of cards (icon, title, summary,
//! publisher, trust band), searched and filtered by category, paged; the
//! order is the API's (the owner's trust, then relevance or title).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Viewer;
use super::layout::{self, Nav};
use crate::api::routes::{MarketParams, market};
use crate::node::Node;
use archy_discovery::market::{ListingSummary, Page};

/// Cards on a page.
pub const PER_PAGE: usize = 24;
/// Categories offered as filters.
const MAX_CATEGORIES: usize = 12;

/// The page's query.
#[derive(Debug, Default, Deserialize)]
pub struct DiscoverQuery {
    q: Option<String>,
    category: Option<String>,
    page: Option<usize>,
}

/// The Discover page.
pub async fn page(
    viewer: Viewer,
    State(node): State<Node>,
    Query(query): Query<DiscoverQuery>,
) -> Response {
    let number = query.page.unwrap_or(1).max(1);
    let params = MarketParams {
        q: query.q.clone(),
        category: query.category.clone(),
        page: Some(number),
        per_page: Some(PER_PAGE),
        offset: None,
    };
    let answer = market(State(node.clone()), Ok(Query(params))).await;
    let categories = node.market().map(|m| m.categories()).unwrap_or_default();
    let content = match answer {
        Ok(axum::Json(page)) => grid(&query, &page, number, &categories),
        Err(e) => html! {
            h1 { "Discover" }
            p.notice.error role="alert" { "The market could not answer: " (e.body().error) }
        },
    };
    layout::page("Discover", Nav::Discover, Some(&viewer), content).into_response()
}

fn grid(
    query: &DiscoverQuery,
    page: &Page,
    number: usize,
    categories: &[(String, usize)],
) -> Markup {
    let q = query.q.as_deref().unwrap_or("");
    let chosen = query.category.as_deref().unwrap_or("");
    let pages = page.total.div_ceil(PER_PAGE).max(1);
    let link = |n: usize| {
        let mut href = format!("/?page={n}");
        if !q.is_empty() {
            href += &format!("&q={}", layout::query_value(q));
        }
        if !chosen.is_empty() {
            href += &format!("&category={}", layout::query_value(chosen));
        }
        href
    };
    html! {
        h1 { "Discover" }
        form.search role="search" method="get" action="/" {
            label for="q" { "Search apps" }
            input #q type="search" name="q" value=(q) placeholder="notes, photos, wiki…";
            label for="category" { "Category" }
            select #category name="category" {
                option value="" selected[chosen.is_empty()] { "All categories" }
                @for (category, count) in categories.iter().take(MAX_CATEGORIES) {
                    option value=(category) selected[chosen.eq_ignore_ascii_case(category)] {
                        (category) " (" (count) ")"
                    }
                }
            }
            button type="submit" { "Search" }
        }
        p.count aria-live="polite" {
            @match page.total {
                0 => "No apps match.",
                1 => "1 app",
                n => (format!("{n} apps")),
            }
        }
        ul.grid {
            @for listing in &page.listings { (card(listing)) }
        }
        @if pages > 1 {
            nav.pages aria-label="Pages" {
                @if number > 1 { a href=(link(number - 1)) rel="prev" { "← Previous" } }
                span { "Page " (number) " of " (pages) }
                @if number < pages { a href=(link(number + 1)) rel="next" { "Next →" } }
            }
        }
    }
}

fn card(listing: &ListingSummary) -> Markup {
    let href = format!("/app/{}/{}", listing.did, listing.app_id);
    html! {
        li.card {
            (layout::icon(&listing.did, &listing.app_id, &listing.version))
            div.card-body {
                h2 { a href=(href) { (listing.title) } }
                p.summary { (listing.summary) }
                p.publisher {
                    "by " (listing.publisher.as_deref().unwrap_or("an unnamed publisher"))
                }
                p { (layout::band(listing.trust.as_ref().map(|t| t.band))) }
            }
        }
    }
}
