//! The HTTP surface, every route: `/graphql` (POST; GET for a query, or GraphiQL
//! for a browser; the WebSocket upgrade for subscriptions), `/graphiql/{file}`
//! (GraphiQL's scripts and styles, served by the service), `/health`, `/ready`, and
//! `/metrics` (here, or only on `METRICS_ADDR`); and the layers around them
//! (request ids, the request's span and log line, CORS, body limit and body
//! deadline, rate limits, panics). The accept loop is [`server`].

pub(crate) mod apq;
mod deadline;
mod exchange;
mod graphiql;
mod graphql;
mod health;
mod negotiate;
pub mod rate_limit;
pub mod server;
pub mod ws;

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
    observability::metrics::{self as monitoring, MetricsSource, OperationNames},
};

/// The header that carries the request id. The service always makes the id; a
/// client's own value is only logged beside it ([`ClientRequestId`]).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client request id kept for the log.
pub const MAX_CLIENT_REQUEST_ID: usize = 64;

/// The `x-request-id` a client sent, when well-formed (1 to
/// [`MAX_CLIENT_REQUEST_ID`] characters of `[A-Za-z0-9._:-]`): logged as
/// `request.client_id` so its traces can be joined, never used as the request id,
/// echoed or put in an error (it is the client's word: a reused or hostile value).
#[derive(Clone, Debug)]
pub struct ClientRequestId(pub String);

impl ClientRequestId {
    /// The client's id, when well-formed.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let value = value.to_str().ok()?;
        let well_formed = (1..=MAX_CLIENT_REQUEST_ID).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        well_formed.then(|| Self(value.to_owned()))
    }
}

/// Takes the client's `x-request-id` off the request, so that the next layer makes
/// the service's own, and keeps a well-formed one as [`ClientRequestId`].
async fn take_client_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let sent: Vec<HeaderValue> = request.headers().get_all(REQUEST_ID).iter().cloned().collect();
    request.headers_mut().remove(REQUEST_ID);
    // Several values are no one id: none is kept.
    if let [value] = sent.as_slice()
        && let Some(client) = ClientRequestId::parse(value)
    {
        request.extensions_mut().insert(client);
    }
    request
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The schema, with the pool and limits inside.
    pub schema: AppSchema,
    /// The pool, for readiness.
    pub db: DatabaseConnection,
    /// Reads Better Auth sessions from requests.
    pub sessions: SessionReader,
    /// Reads Better Auth's users and sessions from the database.
    pub users: crate::db::user::Users,
    /// Parsed documents by hash: automatic persisted queries and repeats.
    pub documents: Arc<Documents>,
    /// Request limits.
    pub limits: Limits,
    /// Bounded labels for operation names.
    pub operation_names: Arc<OperationNames>,
    /// What GraphiQL opens with (embedded mode only: PostgreSQL mode never puts a
    /// token in the page).
    pub graphiql: Option<GraphiqlDefaults>,
    /// What WebSocket connections share: their settings, caps and the stop signal.
    pub sockets: Arc<ws::Sockets>,
}

/// What the handlers take: the one [`AppState`], shared rather than cloned for each
/// request.
pub type SharedState = Arc<AppState>;

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
        .route("/graphql", get(ws::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .with_state(Arc::new(state));
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
        .layer(axum::middleware::map_request(take_client_request_id))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_only_when_well_formed() {
        let long = "a".repeat(MAX_CLIENT_REQUEST_ID);
        for good in ["trace-123", "a", "00-4bf92f3577b34da6-01", "svc.name:42_x", long.as_str()] {
            let parsed = ClientRequestId::parse(&HeaderValue::from_str(good).unwrap_or_else(|e| panic!("{e}")));
            assert_eq!(parsed.map(|c| c.0).as_deref(), Some(good));
        }
        let too_long = "a".repeat(MAX_CLIENT_REQUEST_ID + 1);
        for bad in ["", "<script>alert(1)</script>", "a b", "id\"quote", "caf\u{e9}", "x/y", too_long.as_str()] {
            if let Ok(value) = HeaderValue::from_str(bad) {
                assert!(ClientRequestId::parse(&value).is_none(), "{bad:?}");
            }
        }
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").unwrap_or_else(|e| panic!("{e}"));
        assert!(ClientRequestId::parse(&latin1).is_none());
    }
}
