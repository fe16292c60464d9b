//! Embedded mode, through the real binary: no environment at all, a banner that
//! says what to do, a curl line that works, and data that survives a restart.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::helpers::*;

/// Starts the binary in `dir` with no environment but a port (and pretty logs,
/// whose banner carries the demo token); answers it and its banner.
fn start(dir: &std::path::Path) -> (Running, String, u16) {
    let port = free_port();
    let mut child = binary()
        .current_dir(dir)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "pretty")
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
async fn with_json_logs_every_output_line_is_json_and_none_holds_the_demo_token() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("embedded-json-{}", random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let child = binary()
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("HOST", "0.0.0.0")
        .env("LOG_FORMAT", "json")
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut process = Running(child);
    wait_for_health(port, Duration::from_secs(20), String::new).await;
    let status = std::process::Command::new("kill").args(["-s", "TERM", &process.0.id().to_string()]).status();
    assert!(status.unwrap().success());
    assert!(process.0.wait().unwrap().success());

    let output = std::fs::read_to_string(&stdout).unwrap() + &std::fs::read_to_string(&stderr).unwrap();
    let lines: Vec<Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line:?}")))
        .collect();
    let serving = lines.iter().find(|l| l["message"].as_str().is_some_and(|m| m.starts_with("serving")));
    let serving = serving.unwrap_or_else(|| panic!("no start-up event: {output}"));
    let local = format!("http://localhost:{port}/graphql");
    assert_eq!(serving["url"], local.as_str(), "{serving}");
    assert_eq!(serving["demo.token_at"], local.as_str(), "says where the token is: {serving}");
    assert!(serving["note"].as_str().unwrap().contains("HOST=0.0.0.0 is not loopback"), "{serving}");

    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", dir.join("todo-graphql.db").display()));
    let db = db.await.unwrap();
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            r#"SELECT token FROM session WHERE "userId" = 'demo-user'"#,
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let token: String = row.try_get_by_index(0).unwrap();
    assert!(!output.contains(&token), "the demo token is in the log: {output}");
    db.close().await.unwrap();
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

/// The GraphiQL page as a browser asks for it, at `address`, with `host` as `Host`.
async fn graphiql_page(address: &str, host: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(format!("{address}/graphql")).header("accept", "text/html");
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn demo_token(app: &TestApp) -> String {
    app.scalar(r#"SELECT token FROM session WHERE "userId" = 'demo-user'"#, []).await
}

#[tokio::test]
async fn graphiql_holds_the_demo_token_only_for_a_loopback_host_asked_from_loopback() {
    let app = spawn_app_on(TestDatabase::new().await, |config| config.better_auth_secret = None).await;
    let token = demo_token(&app).await;
    let port = app.address.rsplit(':').next().unwrap();

    for host in [None, Some(format!("localhost:{port}")), Some(format!("[::1]:{port}"))] {
        let page = graphiql_page(&app.address, host.as_deref()).await;
        assert!(page.contains(&format!("Bearer {token}")), "{host:?}: {page}");
    }
    for host in
        ["attacker.example", &format!("attacker.example:{port}"), "localhost.attacker.example", "127.0.0.1.nip.io"]
    {
        let page = graphiql_page(&app.address, Some(host)).await;
        assert!(!page.contains(&token) && !page.contains("Bearer"), "{host}: {page}");
        assert!(page.contains("tasks { nodes"), "the demo query is still there");
    }
}

/// The permission bits of `path`.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap_or_else(|err| panic!("{}: {err}", path.display())).permissions().mode() & 0o777
}

fn database_file(database: &TestDatabase) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(&database.name)
}

/// SQLite gives `-journal`, `-wal` and `-shm` the main file's mode, whichever
/// connection makes them; the service makes the main file 0600.
#[tokio::test]
async fn the_database_file_and_its_journal_wal_and_shm_are_readable_by_the_owner_only() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let database = TestDatabase::new().await;
    let file = database_file(&database);
    let companion = |suffix: &str| std::path::PathBuf::from(format!("{}{suffix}", file.display()));
    let app = spawn_app_on(database, |_| {}).await;
    let ada = app.create_user("Ada").await;
    assert_eq!(mode(&file), 0o600);

    // The service's rollback journal exists while a write is open.
    let transaction = app.db.begin().await.unwrap();
    transaction.execute_unprepared("DELETE FROM tasks").await.unwrap();
    assert_eq!(mode(&companion("-journal")), 0o600);
    transaction.rollback().await.unwrap();

    // In WAL mode (a setting of the file), writes go through -wal and -shm.
    app.db.execute_unprepared("PRAGMA journal_mode=WAL").await.unwrap();
    app.create_task(&ada, "written through the WAL").await;
    for suffix in ["-wal", "-shm"] {
        assert_eq!(mode(&companion(suffix)), 0o600, "{suffix}");
    }
}

#[tokio::test]
async fn an_existing_database_file_left_readable_by_others_is_tightened_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let database = TestDatabase::new().await;
    let file = database_file(&database);
    drop(spawn_app_on(database.alias(), |config| config.better_auth_secret = None).await);
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        if std::path::Path::new(&path).exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    assert_eq!(mode(&file), 0o644);
    let _app = spawn_app_on(database, |config| config.better_auth_secret = None).await;
    assert_eq!(mode(&file), 0o600);
}

/// Days from now to the demo session's end.
async fn demo_days_left(app: &TestApp) -> i64 {
    let expires: chrono::DateTime<chrono::Utc> =
        app.scalar(r#"SELECT "expiresAt" FROM session WHERE "userId" = 'demo-user'"#, []).await;
    (expires - chrono::Utc::now()).num_days()
}

#[tokio::test]
async fn the_demo_session_lasts_thirty_days_and_a_start_renews_it_near_its_end() {
    let database = TestDatabase::new().await;
    let embedded = |config: &mut todo_graphql::config::Config| config.better_auth_secret = None;
    let app = spawn_app_on(database.alias(), embedded).await;
    let token = demo_token(&app).await;
    assert_eq!(demo_days_left(&app).await, 29, "30 days, less the moments since");

    for (days_left, renewed) in [(3650, true), (20, false), (3, true)] {
        let expires = chrono::Utc::now() + chrono::Duration::days(days_left);
        app.execute(r#"UPDATE session SET "expiresAt" = $1 WHERE "userId" = 'demo-user'"#, [expires.into()]).await;
        let again = spawn_app_on(database.alias(), embedded).await;
        assert_eq!(demo_token(&again).await, token, "the same session, renewed or kept");
        let expected = if renewed { 29 } else { days_left - 1 };
        assert_eq!(demo_days_left(&again).await, expected, "{days_left} days left at start");
    }
}

#[tokio::test]
async fn renamed_better_auth_tables_are_refused_in_embedded_mode() {
    let database = TestDatabase::new().await;
    let mut config = test_config(&database.url);
    config.better_auth_schema.user_table = todo_graphql::config::Identifier::parse("users").unwrap();
    let Err(err) = todo_graphql::startup::Application::build(&config).await else { panic!("it started") };
    assert!(format!("{err:#}").contains("embedded mode makes Better Auth's default tables"), "{err:#}");
}
