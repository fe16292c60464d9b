//! Embedded mode, through the real binary: no environment at all, a banner that
//! says what to do, a curl line that works, and data that survives a restart.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::helpers::*;

/// Starts the binary in `dir` with no environment but a port; answers it and its
/// banner.
fn start(dir: &std::path::Path) -> (Running, String, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = binary()
        .current_dir(dir)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = Running(child);
    let mut banner = String::new();
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    while !banner.contains("cargo run") {
        let line = lines.next().expect("the banner ends with how to use a real database").unwrap();
        banner.push_str(&line);
        banner.push('\n');
        assert!(started.elapsed() < Duration::from_secs(20));
    }
    (process, banner, port)
}

/// The bearer token in the banner's curl line.
fn banner_token(banner: &str) -> String {
    banner.split("Bearer ").nth(1).unwrap().chars().take_while(char::is_ascii_alphanumeric).collect()
}

async fn call(port: u16, token: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_no_environment_the_banners_curl_line_works_and_data_survives_a_restart() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("embedded-{}", random_id()));
    std::fs::create_dir_all(&dir).unwrap();

    let (process, banner, port) = start(&dir);
    assert!(banner.contains(&format!("http://127.0.0.1:{port}/graphql")), "{banner}");
    assert!(banner.contains("demo@example.com") && banner.contains("curl -s"), "{banner}");
    let token = banner_token(&banner);
    assert_eq!(token.len(), 32);
    let body = call(port, &token, "{ me { email } tasks { nodes { title } } }").await;
    assert_eq!(body["data"], json!({ "me": { "email": "demo@example.com" }, "tasks": { "nodes": [] } }), "{body}");
    let body = call(port, &token, r#"mutation { createTask(input: { title: "kept" }) { id } }"#).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    drop(process);
    assert!(dir.join("todo-graphql.db").exists(), "the data is in todo-graphql.db");

    let (_process, banner, port) = start(&dir);
    assert_eq!(banner_token(&banner), token, "the demo session is made once");
    let body = call(port, &token, "{ tasks { nodes { title } } }").await;
    assert_eq!(body["data"]["tasks"]["nodes"], json!([{ "title": "kept" }]), "{body}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_generated_secret_is_kept_with_the_data_so_cookies_survive_restarts() {
    let database = TestDatabase::new().await;
    let first = spawn_app_on_with_secret(&database, None).await;
    let secret: String =
        first.scalar("SELECT value FROM todo_graphql_settings WHERE key = 'better_auth_secret'", []).await;
    assert!(secret.len() >= 32, "a generated secret: {} characters", secret.len());
    let user = first.create_user("Ada").await;
    let cookie = format!("better-auth.session_token={}", signed_cookie_value(&secret, &user.token));
    let again = spawn_app_on_with_secret(&database, None).await;
    for app in [&first, &again] {
        let body = app.graphql_with(("cookie", &cookie), "{ me { id } }").await;
        assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{body}");
    }
}

/// The service over `database` with the given secret (`None`: embedded mode's own).
async fn spawn_app_on_with_secret(database: &TestDatabase, secret: Option<&str>) -> TestApp {
    spawn_app_on(database.alias(), |config| config.better_auth_secret = secret.map(secrecy::SecretString::from)).await
}

#[tokio::test]
async fn seed_makes_demo_users_with_sessions_and_their_tasks() {
    let database = TestDatabase::new().await;
    let output = binary()
        .args(["seed", "--users", "3", "--tasks-per-user", "2100"])
        .env("DATABASE_URL", &database.url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let app = spawn_app_on(database.alias(), |_| {}).await;
    let tasks: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(tasks, 6300);
    let seeded: i64 = app.scalar(r#"SELECT count(*) FROM "user" WHERE id LIKE 'seed-%'"#, []).await;
    assert_eq!(seeded, 3);
    // Each seeded user can sign in with the session seed made.
    let token: String = app
        .scalar(r#"SELECT token FROM session WHERE "userId" = (SELECT min(id) FROM "user" WHERE id LIKE 'seed-%')"#, [])
        .await;
    let body = app.graphql_with(("authorization", &format!("Bearer {token}")), "{ tasks { totalCount } }").await;
    assert_eq!(body["data"]["tasks"]["totalCount"], 2100, "{body}");

    let output = binary().arg("seed").env("DATABASE_URL", &database.url).output().unwrap();
    assert!(!output.status.success(), "seed must be told whose tasks");
}

#[tokio::test]
async fn embedded_mode_has_no_rate_limit() {
    let app = spawn_app_with(|config| {
        let limits = &mut config.traffic.rate_limits;
        (limits.ip_per_sec, limits.ip_burst, limits.user_per_sec, limits.user_burst) = (1, 1, 1, 1);
    })
    .await;
    let ada = app.create_user("Ada").await;
    for n in 0..5 {
        let response =
            app.post().header("cookie", ada.cookie()).json(&json!({ "query": "{ me { id } }" })).send().await.unwrap();
        assert_eq!(response.status(), 200, "request {n}");
    }
}
