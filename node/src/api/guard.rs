//! What every API request passes before a handler sees it, in order:
//!
//! 1. its `Host` must name this node (the bound address, `localhost` or a
//!    loopback address with the bound port): a page on another site that
//!    rebinds its DNS name to 127.0.0.1 still sends its own name, and is
//!    refused (403);
//! 2. a body declared larger than [`MAX_BODY`] is refused unread (413);
//! 3. at most [`MAX_CONCURRENT`] requests are answered at once (503 past
//!    that, so a flood cannot queue without bound);
//! 4. every API route but the health check and the login needs the bearer
//!    token (401), or a browser's session cookie ([`super::session`]) with,
//!    for any change, the session's CSRF token (403 without it); wrong
//!    tokens (here and at login) are counted, and past [`MAX_FAILURES`] in
//!    a minute they are answered 429 until the minute is over;
//! 5. a handler that takes longer than [`REQUEST_TIMEOUT`] is cut off (503).
//!
//! There is no CORS layer: browsers keep other sites from reading answers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::session::{CSRF_HEADER, CookieCheck, Sessions};
use super::token::ApiToken;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Requests answered at once.
pub const MAX_CONCURRENT: usize = 64;
/// Longest a handler may take (an operation answers at once with its id;
/// its progress is a separate stream).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Wrong tokens accepted in [`FAILURE_WINDOW`] before answering 429.
pub const MAX_FAILURES: u32 = 20;
/// The window wrong tokens are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Paths answered without a token.
const PUBLIC: [&str; 1] = ["/api/health"];
/// The login: answered without a token (it checks the one in its body).
const LOGIN: &str = "/api/session";

/// The guard's settings and counters, shared by every request.
pub struct Guard {
    token: ApiToken,
    /// The `Host` values accepted, lower-case.
    hosts: Vec<String>,
    requests: Arc<Semaphore>,
    failures: Mutex<Failures>,
    sessions: Sessions,
}

struct Failures {
    since: Instant,
    count: u32,
}

impl Guard {
    /// A guard for an API bound to `bound`, taking `token`.
    pub fn new(token: ApiToken, bound: std::net::SocketAddr) -> Self {
        let port = bound.port();
        let mut hosts = vec![
            bound.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        if port == 80 {
            hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(str::to_owned));
            hosts.push(bound.ip().to_string());
        }
        hosts.dedup();
        Self {
            token,
            hosts,
            requests: Arc::new(Semaphore::new(MAX_CONCURRENT)),
            failures: Mutex::new(Failures {
                since: Instant::now(),
                count: 0,
            }),
            sessions: Sessions::default(),
        }
    }

    /// The same guard, keeping the browsers' sessions in `state` so they
    /// outlive a restart of the node.
    pub fn keeping_sessions_in(self, state: crate::state::NodeState) -> Self {
        Self {
            sessions: Sessions::kept_in(state),
            ..self
        }
    }

    /// The token requests and logins must present.
    pub fn token(&self) -> &ApiToken {
        &self.token
    }

    /// The browsers' sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The answer to a wrong token: 401, or 429 past [`MAX_FAILURES`] in
    /// a minute. Counts it.
    pub fn refuse_wrong_token(&self) -> ApiError {
        if self.too_many_failures() {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "more than {MAX_FAILURES} requests with a wrong token in a minute; wait a minute"
                ),
            );
        }
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this request needs the node's token: send `Authorization: Bearer TOKEN` \
             (or log in at POST /api/session for a browser session), with the token \
             from the file api.token in the node's data directory",
        )
    }

    /// Whether a request with a wrong token is answered 429; counts it.
    fn too_many_failures(&self) -> bool {
        let Ok(mut failures) = self.failures.lock() else {
            return true;
        };
        if failures.since.elapsed() > FAILURE_WINDOW {
            failures.since = Instant::now();
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        failures.count > MAX_FAILURES
    }

    /// Whether the request carries the token.
    fn authorized(&self, request: &Request) -> bool {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|presented| self.token.accepts(presented.trim()))
    }
}

/// The middleware: the checks in the module's order, then the handler.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    if !host.as_ref().is_some_and(|h| guard.hosts.contains(h)) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this node answers requests addressed to {} only, not to {}: \
                 a page from another site must not reach it",
                guard.hosts[0],
                host.as_deref().unwrap_or("no Host at all"),
            ),
        )
        .into_response();
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a request body may have at most {MAX_BODY} bytes"),
        )
        .into_response();
    }
    let Ok(_permit) = guard.requests.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the node is answering {MAX_CONCURRENT} requests already; try again shortly"),
        )
        .into_response();
    };
    let path = request.uri().path();
    // The pages check their own session: without one they redirect to
    // the login, and their forms carry the CSRF token in their body.
    let open = PUBLIC.contains(&path)
        || (path == LOGIN && request.method() == Method::POST)
        || crate::web::is_page(path);
    if !open && !guard.authorized(&request) {
        let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
        match guard.sessions.check(request.headers(), changes) {
            CookieCheck::Allowed => {}
            CookieCheck::MissingCsrf => {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "a change made with a session cookie needs the session's CSRF token in the {CSRF_HEADER} header (GET /api/session answers it)"
                    ),
                )
                .into_response();
            }
            CookieCheck::NoSession => {
                let refused = guard.refuse_wrong_token();
                let too_many = refused.status() == StatusCode::TOO_MANY_REQUESTS;
                let mut response = refused.into_response();
                let (name, value) = if too_many {
                    (
                        header::RETRY_AFTER,
                        HeaderValue::from(FAILURE_WINDOW.as_secs()),
                    )
                } else {
                    (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
                };
                response.headers_mut().insert(name, value);
                return response;
            }
        }
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the node did not answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}
