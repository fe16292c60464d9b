//! Operating it: metrics, logs without secrets, graceful shutdown, start-up retry,
//! TLS to PostgreSQL, and deployment files that agree with the code.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};

use crate::{helpers::*, postgres::Throwaway};

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

/// The binary, serving `database` on a free port, its log in a file.
struct Served {
    port: u16,
    process: Running,
    log: PathBuf,
}

fn serve(database: &TestDatabase, extra: &[(&str, &str)]) -> Served {
    let port = free_port();
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{port}.log"));
    let process = serving(database, port)
        .envs(extra.iter().copied())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Served { port, process: Running(process), log }
}

impl Served {
    async fn ready(&self) {
        wait_for_health(self.port, Duration::from_secs(20), || self.log()).await;
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What it wrote to standard output.
    fn stdout(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("out")).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status =
            std::process::Command::new("kill").args(["-s", name, &self.process.0.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

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

#[tokio::test]
async fn sigterm_lets_every_request_in_flight_finish_and_keeps_every_answered_write() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let user = insert_user(&db).await;
    let served = serve(&database, &[("SHUTDOWN_DRAIN_SECS", "20"), ("DATABASE_MAX_CONNECTIONS", "25")]);
    served.ready().await;

    // Every request waits on this lock, so all 20 are in flight at SIGTERM.
    let transaction = db.begin().await.unwrap();
    transaction.execute_unprepared("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let client = reqwest::Client::new();
    let cookie = format!("better-auth.session_token={}", signed_cookie_value(SECRET, &user.token));
    let requests: Vec<_> = (0..20)
        .map(|n| {
            let query = if n % 2 == 0 {
                format!(r#"mutation {{ createTask(input: {{ title: "in flight {n}" }}) {{ title }} }}"#)
            } else {
                "{ taskStats { total } }".to_owned()
            };
            let request =
                client.post(served.url("/graphql")).header("cookie", cookie.clone()).json(&json!({ "query": query }));
            tokio::spawn(async move { request.send().await?.json::<Value>().await })
        })
        .collect();
    let waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
    let started = Instant::now();
    loop {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), waiting))
            .await
            .unwrap()
            .unwrap();
        if row.try_get_by_index::<i64>(0).unwrap() >= 20 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the requests never reached the database");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    served.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(client.get(served.url("/health")).send().await.is_err(), "still accepting after SIGTERM");
    transaction.commit().await.unwrap();

    let mut created = Vec::new();
    for (n, request) in requests.into_iter().enumerate() {
        let body = request.await.unwrap().unwrap_or_else(|err| panic!("request {n} got no complete answer: {err}"));
        assert_eq!(body["errors"], Value::Null, "request {n}: {body}");
        if let Some(title) = body["data"]["createTask"]["title"].as_str() {
            created.push(title.to_owned());
        }
    }
    assert_eq!(created.len(), 10);
    let mut process = served.process;
    let status = process.0.wait().unwrap();
    assert!(status.success(), "exit code after a drained shutdown: {status}");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT count(*) FROM tasks"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 10, "every answered mutation is in the database");
}

#[test]
fn start_up_retries_an_unreachable_database_for_a_bounded_time() {
    let port = free_port();
    let started = Instant::now();
    let output = binary()
        .env("DATABASE_URL", format!("postgres://postgres@127.0.0.1:{port}/todo"))
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("LOG_FORMAT", "json")
        .env("DATABASE_CONNECT_RETRY_SECS", "2")
        .env("DATABASE_ACQUIRE_TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(log.contains("retrying"), "{log}");
    assert!(elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(15), "{elapsed:?}");
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

#[tokio::test]
async fn tls_is_used_when_required_and_plain_text_is_refused() {
    let (ca, cert, key) = certificates();
    let server = Throwaway::start(
        &["ssl=on".into(), "ssl_cert_file=server.crt".into(), "ssl_key_file=server.key".into()],
        Some("local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"),
        |data| {
            std::fs::write(data.join("server.crt"), &cert).unwrap();
            std::fs::write(data.join("server.key"), &key).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        },
    );
    let ca_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ca-{}.pem", server.port));
    std::fs::write(&ca_file, &ca).unwrap();
    let base = server.url("postgres");

    for params in ["sslmode=require".to_owned(), format!("sslmode=verify-full&sslrootcert={}", ca_file.display())] {
        let config = test_config(&format!("{base}?{params}")).database;
        let (db, _) = todo_graphql::db::connect(&config).await.unwrap_or_else(|err| panic!("{params}: {err}"));
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(row.try_get_by_index::<bool>(0).unwrap(), "{params}: the connection is not encrypted");
        db.close().await.unwrap();
    }
    let unverified = Database::connect(format!("{base}?sslmode=verify-full")).await;
    assert!(unverified.is_err(), "verify-full must refuse a certificate from an unknown CA");
    let plain = Database::connect(format!("{base}?sslmode=disable")).await;
    let Err(err) = plain else { panic!("a plain-text connection must be refused") };
    let err = err.to_string();
    assert!(err.contains("no encryption") || err.contains("pg_hba"), "{err}");
}

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The JSON array of a Dockerfile instruction in exec form.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("the Dockerfile has no {instruction}"));
    serde_json::from_str(line).unwrap()
}

#[tokio::test]
async fn the_dockerfile_and_fly_toml_agree_with_the_code() {
    use clap::Parser as _;
    let dockerfile = repo_file("Dockerfile");
    let fly: toml::Table = repo_file("fly.toml").parse().unwrap();
    let ci = repo_file(".ci/run");

    // The binary: built by the same command CI runs, copied to the entrypoint.
    let build = "cargo build --release --locked --bin todo-graphql";
    assert!(dockerfile.contains(build) && ci.contains(build), "Dockerfile and .ci/run build alike");
    assert!(env!("CARGO_BIN_EXE_todo-graphql").ends_with("/todo-graphql"));
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    assert_eq!(entrypoint, ["/usr/local/bin/todo-graphql"]);
    assert!(dockerfile.contains("COPY --from=builder /app/target/release/todo-graphql /usr/local/bin/todo-graphql"));
    assert_eq!(exec_form(&dockerfile, "CMD"), ["serve"]);
    assert!(dockerfile.lines().any(|l| l.starts_with("USER ") && !l.contains("root ") && l != "USER root"));
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc"), "a small final image with CA certificates");
    assert!(dockerfile.contains("ALLOW_EMBEDDED=false"), "a deployed image never falls back to a SQLite file");

    // The port: code default, Dockerfile, fly.toml.
    use clap::CommandFactory as _;
    let command = todo_graphql::config::Cli::command();
    let port = command.get_arguments().find(|arg| arg.get_id() == "port").unwrap();
    assert_eq!(port.get_default_values(), ["8080"], "the code's default port");
    assert!(dockerfile.contains("EXPOSE 8080") && dockerfile.contains("PORT=8080"));
    let http = fly["http_service"].as_table().unwrap();
    assert_eq!(http["internal_port"].as_integer(), Some(8080));
    assert_eq!(fly["env"]["PORT"].as_str(), Some("8080"));
    let metrics_addr: std::net::SocketAddr = fly["env"]["METRICS_ADDR"].as_str().unwrap().parse().unwrap();
    assert_eq!(fly["metrics"]["port"].as_integer(), Some(i64::from(metrics_addr.port())), "Fly scrapes METRICS_ADDR");
    assert!(metrics_addr.ip().is_unspecified(), "Fly's scraper reaches the machine over its private address");
    assert_eq!(http["force_https"].as_bool(), Some(true));
    assert_eq!(http["min_machines_running"].as_integer(), Some(0));
    assert_eq!(http["auto_start_machines"].as_bool(), Some(true));
    assert!(http["auto_stop_machines"].as_str().is_some_and(|v| v == "stop" || v == "suspend"));
    let concurrency = http["concurrency"].as_table().unwrap();
    assert_eq!(concurrency["type"].as_str(), Some("requests"));
    assert!(concurrency["soft_limit"].as_integer() < concurrency["hard_limit"].as_integer());

    // The release command is the binary's migrate command.
    let release = fly["deploy"]["release_command"].as_str().unwrap();
    let argv: Vec<&str> = entrypoint.iter().map(String::as_str).chain(release.split_whitespace()).collect();
    let cli = todo_graphql::config::Cli::try_parse_from(argv).unwrap();
    assert_eq!(cli.command, Some(todo_graphql::config::Command::Migrate));
    assert_eq!(fly["env"]["RUN_MIGRATIONS"].as_str(), Some("false"), "the release command migrates");

    // Shutdown: SIGTERM, and Fly waits longer than the drain.
    assert_eq!(fly["kill_signal"].as_str(), Some("SIGTERM"));
    let kill_timeout: u64 = fly["kill_timeout"].as_str().unwrap().trim_end_matches('s').parse().unwrap();
    let drain: u64 = fly["env"]["SHUTDOWN_DRAIN_SECS"].as_str().unwrap().parse().unwrap();
    assert!(kill_timeout > drain, "kill_timeout {kill_timeout}s must exceed the drain {drain}s");

    // Every [env] name is a real setting, and the paths Fly calls exist.
    for name in fly["env"].as_table().unwrap().keys() {
        let flag = format!("--{}", name.to_lowercase().replace('_', "-"));
        let value = fly["env"][name].as_str().unwrap();
        todo_graphql::config::Cli::try_parse_from(["todo-graphql", &flag, value])
            .unwrap_or_else(|err| panic!("fly.toml sets {name}, which the binary does not know: {err}"));
    }
    let checks = http["checks"].as_array().unwrap();
    let app = spawn_app_with(|config| config.metrics_addr = Some(([127, 0, 0, 1], 0).into())).await;
    for path in checks.iter().map(|c| c["path"].as_str().unwrap()) {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let metrics = format!("{}{}", app.metrics_address.as_deref().unwrap(), fly["metrics"]["path"].as_str().unwrap());
    assert_eq!(app.client.get(metrics).send().await.unwrap().status(), 200, "Fly's metrics path");
    assert_eq!(checks[0]["path"].as_str(), Some("/health"));
    app.execute("ALTER TABLE tasks RENAME TO t", []).await;
    assert_eq!(app.get("/health").await.status(), 200, "the health check never depends on the database");
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

#[tokio::test]
async fn sigterm_sends_every_websocket_close_1001_and_still_exits_0() {
    use crate::subscriptions::{closed, connect_to, init, subscribe};

    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let user = insert_user(&db).await;
    let served = serve(&database, &[("SHUTDOWN_DRAIN_SECS", "20")]);
    served.ready().await;
    let cookie = format!("better-auth.session_token={}", signed_cookie_value(SECRET, &user.token));
    let address = served.url("");
    let mut sockets = Vec::new();
    for n in 0..3 {
        let mut ws = connect_to(&address, "graphql-transport-ws", &[("cookie", &cookie)]).await;
        init(&mut ws, Value::Null).await;
        if n > 0 {
            subscribe(&mut ws, "1").await;
        }
        sockets.push(ws);
    }
    // A socket that never sent connection_init is closed the same way.
    sockets.push(connect_to(&address, "graphql-transport-ws", &[]).await);

    served.signal("TERM");
    for (n, ws) in sockets.iter_mut().enumerate() {
        let (code, before) = closed(ws).await;
        assert_eq!(code, 1001, "socket {n}");
        assert!(before.is_empty(), "socket {n}: {before:?}");
    }
    let log = served.log.clone();
    let mut process = served.process;
    let status = process.0.wait().unwrap();
    assert!(status.success(), "exit code after closing the WebSockets: {status}");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains(&user.token), "the session token reached the log");
}
