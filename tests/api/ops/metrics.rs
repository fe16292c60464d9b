//! `/metrics`: requests, operations, the pool and the process counted, and operation
//! names labelled only when they are a signed-in client's.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn metrics_count_requests_operations_and_the_pool() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    app.graphql(Some(&ada), "query MetricsProbe { taskStats { total } }", json!({})).await;
    app.graphql(Some(&ada), "mutation MetricsFail { toggleTask(id: \"nope\") { id } }", json!({})).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let has = |metric: &str, labels: &[&str]| {
        text.lines().any(|line| line.starts_with(metric) && labels.iter().all(|label| line.contains(label)))
    };
    assert!(has("graphql_operations_total", &["operation=\"MetricsProbe\"", "outcome=\"ok\""]), "{text}");
    assert!(has("graphql_operations_total", &["operation=\"MetricsFail\"", "outcome=\"BAD_USER_INPUT\""]));
    assert!(has("graphql_operation_duration_seconds_bucket", &["operation=\"MetricsProbe\""]));
    assert!(has("http_requests_total", &["route=\"/graphql\"", "status=\"200\""]));
    assert!(has("http_request_duration_seconds_bucket", &["route=\"/graphql\""]));
    assert!(has("db_pool_connections", &["state=\"size\""]) && has("db_pool_connections", &["state=\"in_use\""]));
    assert!(has("db_statements_total", &[]));
    assert!(has("process_resident_memory_bytes", &[]), "process metrics");
    assert!(has("todo_graphql_build_info", &[concat!("version=\"", env!("CARGO_PKG_VERSION"), "\"")]));
}

#[tokio::test]
async fn junk_operation_names_without_a_session_take_no_label_from_a_signed_in_one() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let junk = random_id();
    for n in 0..205 {
        app.graphql(None, &format!("query Junk{junk}{n} {{ me {{ id }} }}"), json!({})).await;
    }
    app.graphql(None, &format!("query Invalid{junk} {{ nope }}"), json!({})).await;
    app.graphql(Some(&ada), &format!("query Invalid{junk}Signed {{ nope }}"), json!({})).await;
    // Named apart from other tests' operations: the recorder is the process's.
    let real = format!("TasksPage_{}", random_id());
    let body = app.graphql(Some(&ada), &format!("query {real} {{ tasks {{ totalCount }} }}"), json!({})).await;
    assert_eq!(body["errors"], Value::Null, "{body}");

    let text = app.get("/metrics").await.text().await.unwrap();
    let counted = |operation: &str| {
        text.lines()
            .any(|l| l.starts_with("graphql_operations_total") && l.contains(&format!("operation=\"{operation}\"")))
    };
    assert!(counted(&real), "{text}");
    assert!(counted("unauthenticated") && counted("invalid"), "{text}");
    assert!(!text.contains(&junk), "a name from an unauthenticated or invalid request got a label");
}
