//! What only PostgreSQL can be made to do: refuse connections, hold a table lock.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn an_unreachable_database_is_service_unavailable() {
    let app = spawn_app_with(|config| config.database.acquire_timeout = std::time::Duration::from_secs(1)).await;
    let ada = app.create_user("Ada").await;
    let name = &app.database.name;
    on_server(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ))
    .await;
    let body = app.graphql(Some(&ada), "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["requestId"].as_str().map(str::is_empty), Some(false));
}

#[tokio::test]
async fn a_request_that_runs_too_long_is_stopped() {
    let app = spawn_app_with(|config| config.limits.request_timeout = std::time::Duration::from_secs(1)).await;
    let ada = app.create_user("Ada").await;
    // Hold a lock that every read of tasks waits for.
    let lock = app.database.connect().await;
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let transaction = lock.begin().await.unwrap();
    transaction.execute_unprepared("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let started = std::time::Instant::now();
    let body = app.graphql(Some(&ada), "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    transaction.rollback().await.unwrap();
}
