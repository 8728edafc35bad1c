//! Who is looking: a browser logged in with the node's token holds a
//! session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when the page
//! came over TLS) and every form it is shown carries the session's CSRF
//! token, which a form posted from another site cannot know. The sessions
//! are the API's ([`crate::api::session`]): one login serves the pages and
//! the page's own calls to the API. Wrong tokens count towards the API's
//! limit, so guessing at the login is as slow as guessing at the API.

use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::layout;
use crate::api::guard::Guard;

/// A logged-in browser, and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The session's CSRF token.
    pub csrf: String,
}

impl Viewer {
    /// Refuses a form whose CSRF token is missing or not this session's.
    pub fn check(&self, presented: Option<&str>) -> Result<(), FormRefused> {
        let same = presented.is_some_and(|p| {
            // Compared by hash: the time taken does not tell where a guess
            // first differs.
            blake3::hash(p.as_bytes()) == blake3::hash(self.csrf.as_bytes())
        });
        if same { Ok(()) } else { Err(FormRefused) }
    }
}

/// A form posted without its session's CSRF token: answered 403.
#[derive(Debug)]
pub struct FormRefused;

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        layout::error_page(
            StatusCode::FORBIDDEN,
            "This form was refused",
            "It did not carry this session's security token, so it may have come from another site. Go back, reload the page and try again.",
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let guard = guard_of(parts).ok_or_else(no_guard)?;
        match guard.sessions().csrf_of(&parts.headers) {
            Some(csrf) => Ok(Self { csrf }),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                let to = format!("/login?next={}", layout::query_value(&next));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

fn guard_of(parts: &Parts) -> Option<Arc<Guard>> {
    parts.extensions.get::<Arc<Guard>>().cloned()
}

/// The answer when the pages are served without the API's guard (a bug).
fn no_guard() -> Response {
    layout::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The node is not serving pages",
        "Its API guard is missing; restart the node.",
    )
}

/// Where to go after logging in: a path on this node only.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

/// The login page's query.
#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The login page.
pub async fn login_page(Query(query): Query<LoginQuery>) -> Response {
    login_form(StatusCode::OK, query.next.as_deref(), None)
}

fn login_form(status: StatusCode, next: Option<&str>, problem: Option<&str>) -> Response {
    let body = html! {
        section.narrow {
            h1 { "Log in to this node" }
            p { "Paste the node's token: the file " code { "api.token" } " in its data directory ("
                code { "archy node config" } " shows where it is)." }
            @if let Some(problem) = problem {
                p.notice.error role="alert" { (problem) }
            }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(safe_next(next));
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Log in" }
            }
        }
    };
    (
        status,
        layout::page("Log in", layout::Nav::None, None, body),
    )
        .into_response()
}

/// What the login form posts.
#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Checks the token and opens a session.
pub async fn login(headers: HeaderMap, parts: GuardOf, Form(form): Form<LoginForm>) -> Response {
    let guard = parts.0;
    if !guard.token().accepts(form.token.trim()) {
        let refused = guard.refuse_wrong_token();
        let problem = if refused.status() == StatusCode::TOO_MANY_REQUESTS {
            "Too many wrong tokens in the last minute. Wait a minute, then try again."
        } else {
            "That is not this node's token."
        };
        return login_form(refused.status(), form.next.as_deref(), Some(problem));
    }
    let Ok((cookie, _csrf)) = guard.sessions().open_cookie(over_tls(&headers)) else {
        return layout::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No session could be opened",
            "The node could not draw random numbers for it; see its log.",
        );
    };
    let mut response = Redirect::to(safe_next(form.next.as_deref())).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Whether the request came over TLS (through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The API guard (and the sessions it holds), taken from the request.
pub struct GuardOf(Arc<Guard>);

impl<S: Send + Sync> FromRequestParts<S> for GuardOf {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        guard_of(parts).map(Self).ok_or_else(no_guard)
    }
}

/// What the logout form posts.
#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// Ends the session.
pub async fn logout(
    viewer: Viewer,
    headers: HeaderMap,
    parts: GuardOf,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(refused) = viewer.check(form.csrf.as_deref()) {
        return refused.into_response();
    }
    parts.0.sessions().close(&headers);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("archy_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_login_only_a_path_on_this_node_is_followed() {
        assert_eq!(safe_next(Some("/apps")), "/apps");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(
            layout::query_value("/app/did:key:z6Mk/x?y=1"),
            "/app/did%3Akey%3Az6Mk/x%3Fy%3D1"
        );
    }
}
