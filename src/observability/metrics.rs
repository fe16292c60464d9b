//! Prometheus metrics (`/metrics`) and the one log line per request.
//!
//! - `http_requests_total{route,status}`, `http_request_duration_seconds{route}`
//! - `graphql_operations_total{operation,outcome}`, `graphql_operation_duration_seconds{operation}`
//! - `db_pool_connections{state}` (size, idle, in_use), `db_statements_total`
//! - `subscriptions_live`, `listen_connection_up` (0/1), `listen_connection_drops_total`
//!   (PostgreSQL: [`crate::events::listen`])
//! - process metrics (`process_*`) and `todo_graphql_build_info{version}`
//!
//! Operation names come from the document, so they are the client's word: only a
//! signed-in request that passed parsing and validation is labelled by its name,
//! and at most [`MAX_OPERATION_NAMES`] names at a time. Everything else is labelled
//! by outcome ([`OperationNames::label`]). A name unused for
//! [`OPERATION_NAME_IDLE`] gives its place to a new one, and the exporter drops
//! counters and histograms idle that long, so its series leave `/metrics` too.

use std::{
    num::NonZeroUsize,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::header;
use lru::LruCache;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use sea_orm::{DatabaseBackend, DatabaseConnection};

use tracing::Instrument as _;

use super::RequestId;
use crate::db::StatementCounter;

/// Distinct operation names that have a label of their own at a time.
pub const MAX_OPERATION_NAMES: usize = 200;

/// How long an unused operation name keeps its place, and how long any counter or
/// histogram series (of every metric: the exporter's setting is global) stays in
/// `/metrics` without an update. Counters that come back start again from zero,
/// which Prometheus' `rate()` and `increase()` take as a reset. Gauges never idle out.
pub const OPERATION_NAME_IDLE: Duration = Duration::from_secs(30 * 60);

const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process-wide recorder; installed once, shared by every `Application` of the
/// process (tests start many).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::COUNTER | MetricKindMask::HISTOGRAM, Some(OPERATION_NAME_IDLE))
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

/// Turns document operation names into bounded labels: the names last used, at
/// most [`MAX_OPERATION_NAMES`], each kept until unused for [`OPERATION_NAME_IDLE`].
pub struct OperationNames {
    recent: Mutex<LruCache<String, Instant>>,
}

impl Default for OperationNames {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(MAX_OPERATION_NAMES).unwrap_or(NonZeroUsize::MIN);
        Self { recent: Mutex::new(LruCache::new(capacity)) }
    }
}

/// What decides an operation's label, known once it has run.
#[derive(Clone, Copy, Debug)]
pub struct Labelling<'a> {
    /// The operation's name in the document.
    pub name: Option<&'a str>,
    /// Whether the request resolved to a signed-in user.
    pub signed_in: bool,
    /// Whether it reached execution (it parsed and passed validation).
    pub validated: bool,
}

impl OperationNames {
    /// The label of an operation, decided after it ran, at `now`:
    /// - `invalid`: refused by parsing or validation (whatever its name);
    /// - `unauthenticated`: no user was resolved (no session, or none was needed);
    /// - `anonymous`: signed in, unnamed;
    /// - its name: signed in and named, while the name has a place: it had one, or
    ///   there is room, or the least recently used name has been idle for
    ///   [`OPERATION_NAME_IDLE`] (its series are gone from `/metrics`) and gives way;
    /// - `other`: a new name while every place is in recent use.
    pub fn label(&self, operation: Labelling<'_>, now: Instant) -> String {
        let name = match operation {
            Labelling { validated: false, .. } => return "invalid".into(),
            Labelling { signed_in: false, .. } => return "unauthenticated".into(),
            Labelling { name: None, .. } => return "anonymous".into(),
            Labelling { name: Some(name), .. } => name,
        };
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last_used) = recent.get_mut(name) {
            *last_used = now;
            return name.to_owned();
        }
        if recent.len() == recent.cap().get() {
            match recent.peek_lru() {
                Some((_, last_used)) if now.saturating_duration_since(*last_used) >= OPERATION_NAME_IDLE => {
                    recent.pop_lru();
                }
                _ => return "other".into(),
            }
        }
        recent.put(name.to_owned(), now);
        name.to_owned()
    }
}

/// Counts and times every request, and writes its one log line. Reads the request
/// id once (see [`RequestId`]): every event logged while the request runs is in a
/// `request` span that carries it.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = request
        .extensions()
        .get::<tower_http::request_id::RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .map(|id| RequestId(id.into()))
        .unwrap_or_default();
    request.extensions_mut().insert(request_id.clone());
    let client_id = request.extensions().get::<crate::http::ClientRequestId>().map(|c| c.0.clone());
    let span =
        tracing::info_span!("request", request.id = request_id.as_str(), request.client_id = client_id.as_deref());
    let response = next.run(request).instrument(span).await;
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
        request.id = request_id.as_str(),
        request.client_id = client_id.as_deref(),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in(name: &str) -> Labelling<'_> {
        Labelling { name: Some(name), signed_in: true, validated: true }
    }

    #[test]
    fn only_signed_in_validated_operations_are_labelled_by_name() {
        let names = OperationNames::default();
        let now = Instant::now();
        let junk = Labelling { name: Some("Junk"), signed_in: false, validated: true };
        assert_eq!(names.label(junk, now), "unauthenticated");
        assert_eq!(names.label(Labelling { signed_in: true, validated: false, ..junk }, now), "invalid");
        assert_eq!(names.label(Labelling { signed_in: false, validated: false, ..junk }, now), "invalid");
        assert_eq!(names.label(Labelling { name: None, signed_in: true, validated: true }, now), "anonymous");
        assert_eq!(names.label(signed_in("TasksPage"), now), "TasksPage");
        assert_eq!(names.recent.lock().map(|r| r.len()).unwrap_or_default(), 1, "nothing else took a place");
    }

    #[test]
    fn names_are_bounded_and_an_idle_one_gives_way() {
        let names = OperationNames::default();
        let start = Instant::now();
        for n in 0..MAX_OPERATION_NAMES {
            assert_eq!(names.label(signed_in(&format!("Op{n}")), start), format!("Op{n}"));
        }
        let soon = start + OPERATION_NAME_IDLE / 2;
        assert_eq!(names.label(signed_in("OneTooMany"), soon), "other", "every place is in recent use");
        assert_eq!(names.label(signed_in("Op0"), soon), "Op0", "known names keep their label");
        let later = start + OPERATION_NAME_IDLE;
        assert_eq!(names.label(signed_in("NewName"), later), "NewName", "Op1, idle longest, gave way");
        assert_eq!(names.label(signed_in("Op0"), later), "Op0", "used since, so kept");
        assert_eq!(names.label(signed_in("Another"), later), "Another", "Op2 gave way");
        let recent = names.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        assert!(!recent.contains("Op1") && !recent.contains("Op2") && recent.len() == MAX_OPERATION_NAMES);
    }
}
