//! The web marketplace: server-rendered pages (maud) on the API's own
//! address, for a person in a browser. Each page asks the node what the
//! API would answer (it calls the same handlers), so the page and the API
//! tell the same truth.
//!
//! - `auth`: the login with the node's token, the session cookie, and the
//!   CSRF token every form carries;
//! - `layout`: the page around each page's content, and shared pieces;
//! - `discover`, `app_page`, `install`, `my_apps`, `settings`: the pages;
//! - `assets`: the stylesheet and the script, embedded in the binary;
//! - `icons`: each app's icon, or a monogram where the node has none.
//!
//! JavaScript only follows an operation's progress (Server-Sent Events) and
//! refreshes My Apps in place; every page works, and every form posts,
//! without it.

mod app_page;
mod assets;
mod auth;
mod discover;
mod icons;
mod install;
mod layout;
mod my_apps;
mod settings;

use axum::Router;
use axum::routing::{get, post};

use crate::node::Node;

pub use auth::Viewer;

/// Whether `path` is one of the web pages' (everything outside `/api/`):
/// the API guard leaves their authentication to them, since a page
/// without a session redirects to the login instead of answering 401.
pub fn is_page(path: &str) -> bool {
    !path.starts_with("/api/") && path != "/api"
}

/// The answer for a page this node does not have.
pub fn not_found() -> axum::response::Response {
    layout::error_page(
        axum::http::StatusCode::NOT_FOUND,
        "No such page",
        "This node has no page here.",
    )
}

/// The pages' routes.
pub fn router(node: Node) -> Router {
    Router::new()
        .route("/", get(discover::page))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/app/{did}/{app}", get(app_page::page))
        .route("/install", post(install::start))
        .route("/operations/{id}", get(install::progress))
        .route("/apps", get(my_apps::page))
        .route(
            "/apps/{id}/purge",
            get(my_apps::purge_page).post(my_apps::purge),
        )
        .route("/apps/{id}", post(my_apps::act))
        .route("/peers", get(settings::peers))
        .route("/settings", get(settings::page))
        .route("/settings/trust", post(settings::trust_list))
        .route("/assets/{file}", get(assets::serve))
        .route("/icons/{did}/{app}", get(icons::serve))
        .with_state(node)
}
