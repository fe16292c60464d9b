//! The log: one line per request, JSON throughout when asked for, and never a
//! token, the secret or a hostile client request id.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::serve;
use crate::helpers::*;

#[tokio::test]
async fn logs_have_one_line_per_request_and_never_a_token_or_the_secret() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let user = insert_user(&db).await;
    let served = serve(&database, &[("RUST_LOG", "debug")]);
    served.ready().await;
    let client = reqwest::Client::new();
    let signed = signed_cookie_value(SECRET, &user.token);
    for (header, value) in [
        ("cookie", format!("better-auth.session_token={signed}")),
        ("authorization", format!("Bearer {}", user.token)),
        ("authorization", format!("Bearer {signed}")),
    ] {
        let response = client
            .post(served.url("/graphql"))
            .header(header, value)
            .header("x-request-id", "log-probe")
            .json(&json!({ "query": "query LogProbe { me { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    served.signal("TERM");
    let log = served.log();
    let signature = signed.split('.').nth(1).unwrap();
    for secret in
        [user.token.as_str(), SECRET, signature, &signature.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=")]
    {
        assert!(!log.contains(secret), "the log holds a secret: {secret}");
    }
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "request" && line["request.client_id"] == "log-probe")
        .collect();
    assert_eq!(lines.len(), 3, "one line per request: {log}");
    for line in &lines {
        assert_eq!(line["http.method"], "POST");
        assert_eq!(line["http.path"], "/graphql");
        assert_eq!(line["http.status"], 200);
        assert_eq!(line["graphql.operation"], "LogProbe");
        assert_eq!(line["user.id"], user.id.as_str(), "the user id may be logged");
        assert!(line["duration_ms"].as_f64().is_some());
        assert!(uuid::Uuid::parse_str(line["request.id"].as_str().unwrap()).is_ok(), "the service's id: {line}");
    }
    assert_ne!(lines[0]["request.id"], lines[1]["request.id"], "one client id, two requests, two ids");
}

#[tokio::test]
async fn with_json_logs_every_line_on_stdout_and_stderr_is_json() {
    let database = TestDatabase::new().await;
    let mut served = serve(&database, &[]);
    served.ready().await;
    served.signal("TERM");
    assert!(served.process.0.wait().unwrap().success());
    let (stdout, stderr) = (served.stdout(), served.log());
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(serde_json::from_str::<Value>(line).is_ok(), "not JSON: {line:?}");
    }
    let serving =
        stderr.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|l| l["message"] == "serving");
    let serving = serving.unwrap_or_else(|| panic!("no start-up event: {stderr}"));
    assert_eq!(serving["url"], format!("http://127.0.0.1:{}/graphql", served.port), "{serving}");
    assert_eq!(serving["database.host"], "127.0.0.1", "{serving}");
}

#[tokio::test]
async fn a_hostile_client_request_id_reaches_neither_the_answer_nor_the_log() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let user = insert_user(&db).await;
    db.execute_unprepared("ALTER TABLE tasks RENAME COLUMN title TO hidden_title").await.unwrap();
    let served = serve(&database, &[]);
    served.ready().await;
    let hostile = "<script>alert(1)</script>";
    let response = reqwest::Client::new()
        .post(served.url("/graphql"))
        .header("authorization", format!("Bearer {}", user.token))
        .header("x-request-id", hostile)
        .json(&json!({ "query": "{ tasks { nodes { title } } }" }))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR", "{body}");
    assert!(!body.to_string().contains("script"), "{body}");
    // Both lines are written before the answer is sent.
    let log = served.log();
    assert!(!log.contains("script"), "the hostile id reached the log: {log}");
    let failed =
        log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|l| l["message"] == "request failed");
    assert_eq!(
        failed.unwrap_or_default()["request.id"],
        request_id.as_str(),
        "the cause is logged under the service's id"
    );
}
