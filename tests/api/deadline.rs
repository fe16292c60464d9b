//! Writes are never cancelled half-way: a mutation that started runs to its answer
//! past the request deadline; PostgreSQL's `statement_timeout` stops a statement
//! and rolls it back; a root field not started by the deadline is refused; a
//! client that goes away does not stop a write. The slow statement is a row lock
//! the test holds from another connection.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::*;

const TOGGLE: &str = "mutation($id: ID!) { toggleTask(id: $id) { id completed } }";

/// Locks the task's row in a transaction of another connection, as a slow writer would.
async fn lock_row(app: &TestApp, id: &Value) -> (sea_orm::DatabaseConnection, DatabaseTransaction) {
    let connection = app.database.connect().await;
    let transaction = connection.begin().await.unwrap();
    let sql = format!("SELECT id FROM tasks WHERE id = '{}' FOR UPDATE", id.as_str().unwrap());
    transaction.execute_unprepared(&sql).await.unwrap();
    (connection, transaction)
}

/// Waits until `n` statements of the service are blocked on a lock.
async fn blocked_on_lock(app: &TestApp, n: i64) {
    for _ in 0..500 {
        let waiting: i64 = app
            .scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                [],
            )
            .await;
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the mutation never reached the locked row");
}

/// The request deadline is 1 s; the statement timeout as given.
async fn app_with(statement_timeout: Duration) -> TestApp {
    spawn_app_with(|config| {
        config.limits.request_timeout = Duration::from_secs(1);
        config.limits.statement_timeout = statement_timeout;
    })
    .await
}

#[tokio::test]
async fn a_write_stopped_by_the_statement_timeout_is_service_unavailable_and_changes_nothing() {
    let app = spawn_app_with(|config| config.limits.statement_timeout = Duration::from_millis(300)).await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "locked").await;
    let before = app.task_row(&task["id"]).await;
    let (_connection, lock) = lock_row(&app, &task["id"]).await;

    for (query, variables) in [
        (TOGGLE, json!({ "id": task["id"] })),
        ("mutation($id: ID!) { updateTask(id: $id, input: { title: \"x\" }) { id } }", json!({ "id": task["id"] })),
        ("mutation($id: ID!) { deleteTask(id: $id) }", json!({ "id": task["id"] })),
    ] {
        let body = app.graphql(Some(&ada), query, variables).await;
        assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{query}: {body}");
        assert_eq!(body["data"], Value::Null, "{body}");
    }
    lock.rollback().await.unwrap();
    assert_eq!(app.task_row(&task["id"]).await, before, "the stopped writes rolled back");

    // The timeout was the transaction's own: the pool's connections are not left with it.
    let body = app.graphql(Some(&ada), TOGGLE, json!({ "id": task["id"] })).await;
    assert_eq!(body["data"]["toggleTask"]["completed"], true, "{body}");
}

#[tokio::test]
async fn a_mutation_that_overran_the_deadline_answers_its_result() {
    let app = app_with(Duration::from_secs(8)).await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "slow").await;
    let (_connection, lock) = lock_row(&app, &task["id"]).await;

    let toggle = app.graphql(Some(&ada), TOGGLE, json!({ "id": task["id"] }));
    let release = async {
        blocked_on_lock(&app, 1).await;
        // Past the 1 s deadline while the UPDATE waits for the row.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        lock.commit().await.unwrap();
    };
    let (body, ()) = tokio::join!(toggle, release);

    assert_eq!(body["errors"], Value::Null, "a committed write is reported as such: {body}");
    assert_eq!(body["data"]["toggleTask"]["completed"], true);
    assert!(app.task_row(&task["id"]).await.completed);
}

#[tokio::test]
async fn a_root_field_not_started_by_the_deadline_is_refused_and_the_ones_before_keep_their_answers() {
    let app = app_with(Duration::from_secs(8)).await;
    let ada = app.create_user("Ada").await;
    let first = app.create_task(&ada, "first").await;
    let second = app.create_task(&ada, "second").await;
    let (_connection, lock) = lock_row(&app, &first["id"]).await;

    let query =
        "mutation($a: ID!, $b: ID!) { a: toggleTask(id: $a) { completed } b: toggleTask(id: $b) { completed } }";
    let both = app.graphql(Some(&ada), query, json!({ "a": first["id"], "b": second["id"] }));
    let release = async {
        blocked_on_lock(&app, 1).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        lock.commit().await.unwrap();
    };
    let (body, ()) = tokio::join!(both, release);

    assert_eq!(body["data"]["a"]["completed"], true, "{body}");
    assert_eq!(body["data"]["b"], Value::Null, "{body}");
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE");
    assert_eq!(body["errors"][0]["path"], json!(["b"]));
    assert!(app.task_row(&first["id"]).await.completed);
    assert!(!app.task_row(&second["id"]).await.completed, "the refused field wrote nothing");
}

#[tokio::test]
async fn a_client_that_goes_away_mid_mutation_stops_nothing_half_way() {
    let app = app_with(Duration::from_secs(8)).await;
    let ada = app.create_user("Ada").await;
    let first = app.create_task(&ada, "first").await;
    let second = app.create_task(&ada, "second").await;
    let (_connection, lock) = lock_row(&app, &first["id"]).await;

    // A raw connection, so that going away is certain: the socket closes.
    let body = json!({
        "query": "mutation($a: ID!, $b: ID!) { a: toggleTask(id: $a) { id } b: toggleTask(id: $b) { id } }",
        "variables": { "a": first["id"], "b": second["id"] },
    })
    .to_string();
    let mut client = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\n\
         Cookie: {}\r\nContent-Length: {}\r\n\r\n{body}",
        ada.cookie(),
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut client, request.as_bytes()).await.unwrap();
    blocked_on_lock(&app, 1).await;
    drop(client);
    lock.commit().await.unwrap();

    for _ in 0..500 {
        let done = [&first, &second];
        let mut completed = Vec::new();
        for task in done {
            completed.push(app.task_row(&task["id"]).await.completed);
        }
        if completed == [true, true] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the mutation was dropped with its client, half-way");
}

#[tokio::test]
async fn a_query_held_past_the_request_time_limit_is_stopped_as_service_unavailable() {
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
