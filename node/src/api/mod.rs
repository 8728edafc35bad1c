//! The node's local HTTP API (axum), on 127.0.0.1:8780 by default: what
//! the CLI and the web marketplace ask a running node.
//!
//! - [`routes`]: the node, market, peers and blobs handlers, each
//!   documented for OpenAPI;
//! - [`apps`]: installed apps, operations and their progress streams;
//! - [`releases`]: fetch, pack and share into the node's store;
//! - [`guard`]: Host check, body limit, concurrency cap, bearer token,
//!   timeout, applied to every request before a handler;
//! - [`token`]: the bearer token in the data directory;
//! - [`session`]: cookie sessions with CSRF tokens, for browsers;
//! - [`error`]: the JSON errors every failure answers with.
//!
//! The OpenAPI 3.1 document (`GET /api/openapi.json`) is generated from the
//! handlers' annotations by utoipa; the same macro puts each handler in the
//! router, so the two cannot drift apart.

pub mod apps;
pub mod error;
pub mod guard;
pub mod peers;
pub mod releases;
pub mod routes;
pub mod session;
pub mod token;
pub mod trust;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Extension};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ApiConfig;
use crate::node::Node;
use error::{ApiError, ErrorBody};
use guard::Guard;
use token::ApiToken;

/// Where the API listens unless configured otherwise.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8780);
/// Longest open requests and streams are waited for when the node stops.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Archipelago node API",
        description = "The local API of an Archipelago registry node: its market of \
                       discovered apps, its apps, peers and blobs. Every route but \
                       /api/health needs `Authorization: Bearer TOKEN`, the token in \
                       the node's data directory (api.token)."
    ),
    tags(
        (name = "node", description = "The node itself"),
        (name = "market", description = "Apps discovered on Nostr relays"),
        (name = "apps", description = "Installed apps and the operations that change them"),
        (name = "releases", description = "Releases and blobs in the node's store"),
        (name = "trust", description = "How far the node's owner trusts publishers and apps, and why"),
        (name = "peers", description = "Paired nodes and the federation they gossip in"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerToken)
)]
struct ApiDoc;

/// Declares the bearer token and requires it everywhere (health's own
/// annotation lifts it).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "token",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "node",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
async fn openapi_json(Extension(doc): Extension<Arc<OpenApiDocument>>) -> Json<OpenApiDocument> {
    Json((*doc).clone())
}

/// Any path the API and the pages do not have.
async fn no_such_route(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if crate::web::is_page(uri.path()) {
        return crate::web::not_found();
    }
    ApiError::not_found(format!(
        "this node has no API route {}; GET /api/openapi.json lists them",
        uri.path()
    ))
    .into_response()
}

/// The router and the OpenAPI document it answers with.
pub fn router(node: Node, guard: Arc<Guard>) -> (Router, OpenApiDocument) {
    let pages = crate::web::router(node.clone());
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::health))
        .routes(routes!(routes::node))
        .routes(routes!(routes::market))
        .routes(routes!(routes::listing))
        .routes(routes!(routes::market_stats))
        .routes(routes!(peers::list))
        .routes(routes!(peers::met))
        .routes(routes!(peers::split_views))
        .routes(routes!(peers::invite))
        .routes(routes!(peers::join))
        .routes(routes!(peers::remove))
        .routes(routes!(routes::publishers))
        .routes(routes!(routes::blobs))
        .routes(routes!(trust::graph))
        .routes(routes!(trust::publisher))
        .routes(routes!(trust::app))
        .routes(routes!(trust::lists, trust::post_list))
        .routes(routes!(trust::put_list, trust::delete_list))
        .routes(routes!(apps::list, apps::install))
        .routes(routes!(apps::show, apps::uninstall))
        .routes(routes!(apps::act))
        .routes(routes!(apps::auto_update))
        .routes(routes!(apps::operations))
        .routes(routes!(apps::operation))
        .routes(routes!(apps::events))
        .routes(routes!(apps::journal))
        .routes(routes!(releases::fetch))
        .routes(routes!(releases::pack))
        .routes(routes!(releases::share_file))
        .routes(routes!(releases::collect_garbage))
        .routes(routes!(releases::receive))
        .routes(routes!(apps::reconcile))
        .routes(routes!(apps::lifecycle_test))
        .routes(routes!(openapi_json))
        .routes(routes!(session::login, session::show, session::logout))
        .with_state(node)
        .split_for_parts();
    let router = router
        .merge(pages)
        .fallback(no_such_route)
        .layer(Extension(guard.clone()))
        .layer(Extension(Arc::new(document.clone())))
        .layer(Extension(apps::StreamSlots(Arc::new(
            tokio::sync::Semaphore::new(apps::MAX_STREAMS),
        ))))
        .layer(DefaultBodyLimit::max(guard::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check));
    (router, document)
}

/// The API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiStartError {
    /// The configured address is not on this machine and remote access
    /// was not allowed.
    #[error(
        "the API address {0} is reachable from other machines; set api.allow_remote = true \
         to serve it there (behind TLS you provide), or use a loopback address"
    )]
    NotLoopback(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The token file.
    #[error(transparent)]
    Token(#[from] token::TokenError),
}

/// Binds the address `config` names. Without one, the default address, or
/// a free loopback port if another node holds the default (said in the
/// log, and the address is in `GET /api/node` and `archy node run`'s
/// output).
pub async fn bind(config: &ApiConfig) -> Result<TcpListener, ApiStartError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ApiStartError::Bind { addr, source })
    };
    match config.listen {
        Some(addr) if !addr.ip().is_loopback() && !config.allow_remote => {
            Err(ApiStartError::NotLoopback(addr))
        }
        Some(addr) => bind(addr).await,
        None => match bind(DEFAULT_ADDR).await {
            Err(ApiStartError::Bind { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                tracing::warn!(
                    "{DEFAULT_ADDR} is taken (another node?); the API listens on a free port"
                );
                bind(SocketAddr::new(DEFAULT_ADDR.ip(), 0)).await
            }
            other => other,
        },
    }
}

/// The API, serving until [`ApiServer::shutdown`].
pub struct ApiServer {
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Serves `node`'s API on `listener`, taking `token`.
    pub fn start(
        node: Node,
        listener: TcpListener,
        token: ApiToken,
    ) -> Result<Self, ApiStartError> {
        let addr = listener
            .local_addr()
            .map_err(|source| ApiStartError::Bind {
                addr: DEFAULT_ADDR,
                source,
            })?;
        let guard = Guard::new(token, addr).keeping_sessions_in(node.state().clone());
        let (router, _) = router(node, Arc::new(guard));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!("the API stopped: {e}");
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops accepting, lets open requests finish (bounded), and stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(STOP_TIMEOUT, self.task).await.is_err() {
            abort.abort();
        }
    }
}
