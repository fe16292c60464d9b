//! Prometheus metrics (`/metrics`) and the one log line per request.
//!
//! - `http_requests_total{route,status}`, `http_request_duration_seconds{route}`
//! - `graphql_operations_total{operation,outcome}`, `graphql_operation_duration_seconds{operation}`
//! - `db_pool_connections{state}` (size, idle, in_use), `db_statements_total`
//! - process metrics (`process_*`) and `todo_graphql_build_info{version}`
//!
//! Operation names come from the document and are bounded: past
//! [`MAX_OPERATION_NAMES`] distinct names, new ones are counted as `other`, so a
//! client cannot blow up the label space.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::header;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::db::StatementCounter;

/// Distinct operation names that get a label of their own.
pub const MAX_OPERATION_NAMES: usize = 200;

const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process-wide recorder; installed once, shared by every `Application` of the
/// process (tests start many).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), &LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Only fails when another recorder is installed; its metrics then win.
        let _ = metrics::set_global_recorder(recorder);
        metrics_process::Collector::default().describe();
        metrics::gauge!("todo_graphql_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// What `/metrics` reads besides the recorder.
#[derive(Clone)]
pub struct MetricsSource {
    /// The pool, for its gauges.
    pub db: DatabaseConnection,
    /// Statements run by the pool.
    pub statements: StatementCounter,
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(source): State<MetricsSource>) -> impl IntoResponse {
    if source.db.get_database_backend() == DatabaseBackend::Postgres {
        let pool = source.db.get_postgres_connection_pool();
        let (size, idle) = (f64::from(pool.size()), pool.num_idle() as f64);
        metrics::gauge!("db_pool_connections", "state" => "size").set(size);
        metrics::gauge!("db_pool_connections", "state" => "idle").set(idle);
        metrics::gauge!("db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    }
    metrics::counter!("db_statements_total").absolute(source.statements.get());
    metrics_process::Collector::default().collect();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], recorder().render())
}

/// What a handler tells the request log and metrics about a GraphQL request.
#[derive(Clone, Debug, Default)]
pub struct GraphqlOutcome {
    /// The operation label (bounded), or `batch`.
    pub operation: String,
    /// `ok`, or the first error's code.
    pub outcome: String,
    /// The signed-in user's id, when one was looked up.
    pub user_id: Option<String>,
}

/// Records one GraphQL operation.
pub fn record_operation(operation: &str, outcome: &str, started: Instant) {
    let (operation, outcome) = (operation.to_owned(), outcome.to_owned());
    metrics::counter!("graphql_operations_total", "operation" => operation.clone(), "outcome" => outcome).increment(1);
    metrics::histogram!("graphql_operation_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

/// Turns document operation names into bounded labels.
#[derive(Default)]
pub struct OperationNames {
    seen: Mutex<HashSet<String>>,
}

impl OperationNames {
    /// The label of an operation: its name while there is room, else `other`;
    /// `anonymous` for an unnamed operation.
    pub fn label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".into();
        };
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(name) || (seen.len() < MAX_OPERATION_NAMES && seen.insert(name.to_owned())) {
            name.to_owned()
        } else {
            "other".into()
        }
    }
}

/// Counts and times every request, and writes its one log line.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let client_id = request.extensions().get::<crate::http::ClientRequestId>().map(|c| c.0.clone());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!("http_requests_total", "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
    let graphql = response.extensions().get::<GraphqlOutcome>().cloned().unwrap_or_default();
    tracing::info!(
        http.method = %method,
        http.path = %path,
        http.status = status,
        graphql.operation = graphql.operation,
        graphql.outcome = graphql.outcome,
        user.id = graphql.user_id.as_deref().unwrap_or(""),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request.id = %request_id,
        request.client_id = client_id.as_deref(),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        let names = OperationNames::default();
        assert_eq!(names.label(None), "anonymous");
        for n in 0..MAX_OPERATION_NAMES {
            assert_eq!(names.label(Some(&format!("Op{n}"))), format!("Op{n}"));
        }
        assert_eq!(names.label(Some("OneTooMany")), "other");
        assert_eq!(names.label(Some("Op7")), "Op7", "known names keep their label");
    }
}
