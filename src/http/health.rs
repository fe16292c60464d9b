//! `/health` (the process serves; never touches the database) and `/ready` (the
//! database answers and holds the tables the service needs).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::SharedState;
use crate::db;

/// How long `/ready` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// Liveness.
pub async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness.
pub async fn ready(State(state): State<SharedState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_TIMEOUT, db::missing_tables(&state.db, state.users.tables())).await {
        Ok(Ok(missing)) if missing.is_empty() => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(Ok(missing)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": format!("missing tables: {}", missing.join(", ")) })),
        ),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "the database did not answer" })),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "the database timed out" })),
        ),
    }
}
