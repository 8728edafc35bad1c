//! Cookie sessions for browsers (the web marketplace), beside the bearer
//! token that the CLI and scripts send.
//!
//! A page logs in once with the node's token (`POST /api/session`) and gets
//! a session cookie (`HttpOnly`, `SameSite=Strict`) and a CSRF token. Every
//! request that changes something (any method but GET and HEAD) made with
//! the cookie must also carry the CSRF token in the `X-CSRF-Token` header,
//! or it is refused (403): a page on another site can make the browser
//! send the cookie, but cannot read the CSRF token. At most
//! [`MAX_SESSIONS`] live at once, each ending after [`IDLE_LIMIT`] unused.
//! A node keeps them in its state (the cookie's hash, never the cookie), so
//! a page open across a restart of the node carries on without a new
//! login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Extension;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::rejection::JsonRejection};
use cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::guard::Guard;
use crate::state::NodeState;

/// The session cookie's name.
pub const COOKIE: &str = "archy_session";
/// The header that carries the CSRF token on a cookie session's changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions held at once; logging in past it ends the least recently used.
pub const MAX_SESSIONS: usize = 64;
/// A session unused this long has ended.
pub const IDLE_LIMIT: Duration = Duration::from_secs(12 * 3600);
/// Random bytes in a session id and a CSRF token.
const SECRET_BYTES: usize = 32;

/// How stale a kept session's last use may get before it is written again.
const SAVE_EVERY: Duration = Duration::from_secs(600);

/// The sessions a node holds, keyed by the hash of their cookie.
#[derive(Default)]
pub struct Sessions {
    by_cookie: Mutex<HashMap<blake3::Hash, Session>>,
    /// Where they are kept across restarts, if anywhere.
    kept: Option<NodeState>,
}

struct Session {
    csrf: String,
    last_used: Instant,
    /// When its last use was last written to the state.
    saved: Instant,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How a request with a session cookie fares.
pub enum CookieCheck {
    /// No session cookie, or one for no live session.
    NoSession,
    /// A live session; the request may go on.
    Allowed,
    /// A live session, but a change without its CSRF token.
    MissingCsrf,
}

impl Sessions {
    /// Sessions kept in `state`: the live ones kept there are taken back.
    pub fn kept_in(state: NodeState) -> Self {
        let mut by_cookie = HashMap::new();
        match state.sessions() {
            Ok(kept) => {
                let now = unix_now();
                for (hash, csrf, last_used) in kept {
                    let idle = Duration::from_secs(now.saturating_sub(last_used));
                    let Some(at) = Instant::now()
                        .checked_sub(idle)
                        .filter(|_| idle < IDLE_LIMIT)
                    else {
                        continue;
                    };
                    let session = Session {
                        csrf,
                        last_used: at,
                        saved: at,
                    };
                    by_cookie.insert(blake3::Hash::from_bytes(hash), session);
                }
            }
            Err(e) => tracing::warn!("the browsers' sessions were not read back: {e}"),
        }
        Self {
            by_cookie: Mutex::new(by_cookie),
            kept: Some(state),
        }
    }

    /// Writes (or, with `None`, forgets) a session in the state, if kept.
    fn keep(&self, hash: &blake3::Hash, csrf: Option<&str>) {
        let Some(state) = &self.kept else {
            return;
        };
        let kept = match csrf {
            Some(csrf) => state.put_session(hash.as_bytes(), csrf, unix_now()),
            None => state.remove_session(hash.as_bytes()),
        };
        if let Err(e) = kept {
            tracing::warn!("a browser's session was not kept across restarts: {e}");
        }
    }

    /// Opens a session; returns (cookie value, CSRF token).
    fn open(&self) -> Result<(String, String), getrandom::Error> {
        let (cookie, csrf) = (secret()?, secret()?);
        let hash = blake3::hash(cookie.as_bytes());
        let mut ended = Vec::new();
        {
            let mut sessions = self.lock();
            sessions.retain(|k, s| {
                let live = s.last_used.elapsed() < IDLE_LIMIT;
                if !live {
                    ended.push(*k);
                }
                live
            });
            if sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(k, _)| *k)
            {
                sessions.remove(&oldest);
                ended.push(oldest);
            }
            let now = Instant::now();
            sessions.insert(
                hash,
                Session {
                    csrf: csrf.clone(),
                    last_used: now,
                    saved: now,
                },
            );
        }
        for gone in &ended {
            self.keep(gone, None);
        }
        self.keep(&hash, Some(&csrf));
        Ok((cookie, csrf))
    }

    /// Checks a request's session cookie and, for a change, its CSRF
    /// token; a live session counts as used.
    pub fn check(&self, headers: &HeaderMap, changes: bool) -> CookieCheck {
        let Some(cookie) = session_cookie(headers) else {
            return CookieCheck::NoSession;
        };
        let hash = blake3::hash(cookie.as_bytes());
        let mut sessions = self.lock();
        let Some(session) = sessions
            .get_mut(&hash)
            .filter(|s| s.last_used.elapsed() < IDLE_LIMIT)
        else {
            return CookieCheck::NoSession;
        };
        session.last_used = Instant::now();
        if session.saved.elapsed() > SAVE_EVERY {
            session.saved = session.last_used;
            let csrf = session.csrf.clone();
            drop(sessions);
            self.keep(&hash, Some(&csrf));
            sessions = self.lock();
        }
        let Some(session) = sessions.get(&hash) else {
            return CookieCheck::NoSession;
        };
        let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        // Compared by hash: the time taken does not tell where a guess
        // first differs.
        let csrf_ok = presented
            .is_some_and(|p| blake3::hash(p.as_bytes()) == blake3::hash(session.csrf.as_bytes()));
        if changes && !csrf_ok {
            CookieCheck::MissingCsrf
        } else {
            CookieCheck::Allowed
        }
    }

    /// Opens a session for a browser; returns its `Set-Cookie` value
    /// (`HttpOnly`, `SameSite=Strict`, and `Secure` when `secure`) and its
    /// CSRF token.
    pub fn open_cookie(&self, secure: bool) -> Result<(String, String), getrandom::Error> {
        let (cookie, csrf) = self.open()?;
        let cookie = Cookie::build((COOKIE, cookie))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/")
            .build();
        Ok((cookie.to_string(), csrf))
    }

    /// The CSRF token of the request's live session.
    pub fn csrf_of(&self, headers: &HeaderMap) -> Option<String> {
        let cookie = session_cookie(headers)?;
        self.lock()
            .get(&blake3::hash(cookie.as_bytes()))
            .filter(|s| s.last_used.elapsed() < IDLE_LIMIT)
            .map(|s| s.csrf.clone())
    }

    /// Ends the request's session, if any.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(cookie) = session_cookie(headers) {
            let hash = blake3::hash(cookie.as_bytes());
            self.lock().remove(&hash);
            self.keep(&hash, None);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<blake3::Hash, Session>> {
        // A panic while holding the map leaves it whole: take it back.
        self.by_cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of the session cookie among the request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

fn secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A login: the node's token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The node's token (the file api.token in its data directory).
    pub token: String,
}

/// A live session's CSRF token, to send as `X-CSRF-Token` on changes.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    /// The CSRF token; null when the request came with the bearer token
    /// rather than a session cookie.
    pub csrf: Option<String>,
}

/// Logs a browser in with the node's token: sets the session cookie and
/// answers the session's CSRF token. Wrong tokens count towards the same
/// limit as wrong bearer tokens.
#[utoipa::path(post, path = "/api/session", tag = "node", request_body = LoginBody,
    security(()),
    responses((status = 200, description = "Logged in; the cookie is set", body = SessionInfo),
              (status = 401, description = "Wrong token", body = ErrorBody),
              (status = 429, description = "Too many wrong tokens in a minute", body = ErrorBody)))]
pub async fn login(
    Extension(guard): Extension<Arc<Guard>>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if !guard.token().accepts(body.token.trim()) {
        return Err(guard.refuse_wrong_token());
    }
    let (cookie, csrf) = guard
        .sessions()
        .open_cookie(false)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut response = Json(SessionInfo { csrf: Some(csrf) }).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The CSRF token of the caller's session (a page that was reloaded
/// asks again).
#[utoipa::path(get, path = "/api/session", tag = "node",
    responses((status = 200, description = "The session's CSRF token (null for a bearer-token request)", body = SessionInfo)))]
pub async fn show(
    Extension(guard): Extension<Arc<Guard>>,
    headers: HeaderMap,
) -> Json<SessionInfo> {
    Json(SessionInfo {
        csrf: guard.sessions().csrf_of(&headers),
    })
}

/// Logs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/session", tag = "node",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(Extension(guard): Extension<Arc<Guard>>, headers: HeaderMap) -> Response {
    guard.sessions().close(&headers);
    let cleared = Cookie::build((COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cleared.to_string()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(cookie: &str, csrf: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={cookie}")).unwrap(),
        );
        if let Some(csrf) = csrf {
            headers.insert(CSRF_HEADER, HeaderValue::from_str(csrf).unwrap());
        }
        headers
    }

    #[test]
    fn a_change_needs_the_sessions_csrf_token() {
        let sessions = Sessions::default();
        let (cookie, csrf) = sessions.open().unwrap();
        assert!(matches!(
            sessions.check(&with(&cookie, None), false),
            CookieCheck::Allowed
        ));
        assert!(matches!(
            sessions.check(&with(&cookie, None), true),
            CookieCheck::MissingCsrf
        ));
        assert!(matches!(
            sessions.check(&with(&cookie, Some("wrong")), true),
            CookieCheck::MissingCsrf
        ));
        assert!(matches!(
            sessions.check(&with(&cookie, Some(&csrf)), true),
            CookieCheck::Allowed
        ));
        assert!(matches!(
            sessions.check(&with("forged", Some(&csrf)), true),
            CookieCheck::NoSession
        ));
        sessions.close(&with(&cookie, None));
        assert!(matches!(
            sessions.check(&with(&cookie, Some(&csrf)), false),
            CookieCheck::NoSession
        ));
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let (first, _) = sessions.open().unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.open().unwrap();
        }
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
        assert!(matches!(
            sessions.check(&with(&first, None), false),
            CookieCheck::NoSession
        ));
    }
}
