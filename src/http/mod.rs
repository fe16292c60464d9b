//! The HTTP surface: `/graphql` (POST, GET, GraphiQL), `/health`, `/ready`, and
//! the layers around them (request ids, CORS, body limit, panics).

mod apq;
mod deadline;
mod exchange;
mod graphiql;
mod graphql;
mod health;
mod negotiate;
pub mod rate_limit;
pub mod server;

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::DefaultBodyLimit, routing::get};
use http::{HeaderName, HeaderValue, Method, header};
use sea_orm::DatabaseConnection;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

use crate::{
    auth::SessionReader,
    config::Limits,
    graphql::{AppSchema, documents::Documents},
    monitoring::{self, MetricsSource, OperationNames},
};

/// The header that carries the request id, honoured when a client sends one.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The schema, with the pool and limits inside.
    pub schema: AppSchema,
    /// The pool, for readiness.
    pub db: DatabaseConnection,
    /// Reads Better Auth sessions from requests.
    pub sessions: SessionReader,
    /// Parsed documents by hash: automatic persisted queries and repeats.
    pub documents: Arc<Documents>,
    /// Request limits.
    pub limits: Limits,
    /// Bounded labels for operation names.
    pub operation_names: Arc<OperationNames>,
    /// What GraphiQL opens with (embedded mode only: PostgreSQL mode never puts a
    /// token in the page).
    pub graphiql: Option<GraphiqlDefaults>,
}

/// GraphiQL's prefilled headers and query.
#[derive(Clone, Debug)]
pub struct GraphiqlDefaults {
    /// The headers editor, as JSON.
    pub headers: serde_json::Value,
    /// The query editor.
    pub query: String,
}

/// What guards the routes against clients that are slow or too many.
#[derive(Clone)]
pub struct Guards {
    /// Request rates; `None` when off (embedded mode, or both limits 0).
    pub rate_limit: Option<Arc<rate_limit::RateLimit>>,
    /// The whole body must arrive within this.
    pub body_read_timeout: Duration,
}

/// The router with every route and layer; `/metrics` only when `metrics` is given
/// (else it is served on its own address by [`metrics_router`]).
pub fn router(state: AppState, metrics: Option<MetricsSource>, cors_origins: &[String], guards: Guards) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let mut router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .with_state(state);
    if let Some(metrics) = metrics {
        router = router.merge(metrics_router(metrics));
    }
    if let Some(limit) = guards.rate_limit {
        router = router.layer(axum::middleware::from_fn_with_state(limit, rate_limit::limit));
    }
    router
        .layer(axum::middleware::from_fn(monitoring::track))
        .layer(axum::middleware::from_fn_with_state(guards.body_read_timeout, deadline::body_deadline))
        .layer(DefaultBodyLimit::max(body_limit))
        // GraphiQL's script is 3.5 MB raw, under 1 MB gzipped; JSON answers shrink too.
        .layer(CompressionLayer::new())
        .layer(cors(cors_origins))
        .layer(CatchPanicLayer::new())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// `/metrics` alone, for `METRICS_ADDR`.
pub fn metrics_router(metrics: MetricsSource) -> Router {
    Router::new().route("/metrics", get(monitoring::metrics)).with_state(metrics)
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static("apollographql-client-name"),
            HeaderName::from_static("apollographql-client-version"),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}
