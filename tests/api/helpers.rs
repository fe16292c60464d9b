//! `spawn_app()` and the `TestApp` handle: a PostgreSQL to test against (the one at
//! `TEST_DATABASE_URL`, else a throwaway one), a migrated template database, one
//! fresh database per test, and Better Auth users and sessions inserted the way
//! Better Auth inserts them.

use std::{process::Command, sync::OnceLock, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use todo_graphql::{
    config::{Backend, Config, DatabaseConfig, Settings},
    db::{StatementCounter, task::NewTask},
    startup::Application,
};

/// The secret the test frontend "signs" cookies with.
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";
/// The Better Auth schema, as its own migration makes it.
const BETTER_AUTH_SCHEMA: &str = include_str!("../fixtures/better-auth/schema.sql");

/// Where the tests' PostgreSQL is, found or started once per test process.
struct Server {
    /// URL of the server without a database name.
    base: url::Url,
    template: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Its own thread and runtime: no connection of it outlives the init.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(Server::start())
        })
        .join()
        .expect("could not prepare PostgreSQL for the tests")
    })
}

impl Server {
    async fn start() -> Self {
        let mut base = crate::postgres::test_server(std::env::var("TEST_DATABASE_URL").ok()).await;
        base.set_path("");
        let template = create_template(&base).await;
        Self { base, template }
    }

    fn url(&self, database: &str) -> String {
        let mut url = self.base.clone();
        url.set_path(database);
        url.to_string()
    }
}

/// The template: Better Auth's tables plus every migration. Named after a hash of
/// what makes it, so a changed migration makes a new one; built under an advisory
/// lock so parallel test processes build it once.
async fn create_template(base: &url::Url) -> String {
    let mut hasher = Sha256::new();
    hasher.update(BETTER_AUTH_SCHEMA);
    for migration in migration_sources() {
        hasher.update(migration);
    }
    let name = format!("todo_graphql_template_{}", &hex::encode(hasher.finalize())[..16]);
    let mut admin_url = base.clone();
    admin_url.set_path("postgres");
    let admin = Database::connect(admin_url.as_str()).await.expect("connecting to the test PostgreSQL");
    admin.execute_unprepared("SELECT pg_advisory_lock(4242)").await.unwrap();
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {building}")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {building}")).await.unwrap();
        let mut url = base.clone();
        url.set_path(&building);
        let db = Database::connect(url.as_str()).await.unwrap();
        db.execute_unprepared(BETTER_AUTH_SCHEMA).await.unwrap();
        db.close().await.unwrap();
        todo_graphql::db::migrate(&database_config(url.as_str())).await.unwrap();
        admin.execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {name}")).await.unwrap();
    }
    admin.execute_unprepared("SELECT pg_advisory_unlock(4242)").await.unwrap();
    admin.close().await.unwrap();
    name
}

/// Every file of the migration crate, in name order: a new or changed migration
/// makes a new template without being listed here.
fn migration_sources() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migration/src");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths.into_iter().map(|path| std::fs::read(path).unwrap()).collect()
}

fn database_config(url: &str) -> DatabaseConfig {
    DatabaseConfig { max_connections: 5, connect_retry: Duration::ZERO, ..DatabaseConfig::new(url) }
}

/// A fresh database, dropped when the value is (unless it is an alias).
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    owned: bool,
}

impl TestDatabase {
    /// A fresh database of the suite's backend: on PostgreSQL a copy of the
    /// migrated template, on SQLite a new file the service migrates at start.
    pub async fn new() -> Self {
        match crate::BACKEND {
            Backend::Postgres => Self::create(&format!("TEMPLATE {}", server().template)).await,
            Backend::Sqlite => {
                let name = format!("todo-graphql-test-{}.db", uuid::Uuid::new_v4().simple());
                let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(&name);
                Self { url: format!("sqlite://{}?mode=rwc", path.display()), name, owned: true }
            }
        }
    }

    /// A database with only Better Auth's tables: what a frontend's database looks
    /// like before this service first runs.
    pub async fn better_auth_only() -> Self {
        let database = Self::new().await;
        let db = database.connect().await;
        db.execute_unprepared("DROP TABLE tasks; DROP TABLE task_creations; DROP TABLE todo_graphql_migrations;")
            .await
            .unwrap();
        db.close().await.unwrap();
        database
    }

    async fn create(clause: &str) -> Self {
        let name = format!("todo_graphql_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(server().url("postgres")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name} {clause}")).await.unwrap();
        admin.close().await.unwrap();
        Self { url: server().url(&name), name, owned: true }
    }

    /// The same database for a second service; dropping it drops nothing.
    #[allow(dead_code, reason = "used by the SQLite suite only")]
    pub fn alias(&self) -> Self {
        Self { name: self.name.clone(), url: self.url.clone(), owned: false }
    }

    /// A connection as the superuser, to arrange and inspect.
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(self.url.as_str()).await.unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if crate::BACKEND == Backend::Sqlite {
            let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(&self.name);
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            return;
        }
        let name = self.name.clone();
        // Drop runs inside a test's runtime; the cleanup gets a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(server().url("postgres")).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The configuration tests run the service with: the declared defaults, except
/// that request rates are off unless a test sets them (suites send far more than a
/// browser from one address, and the rate-limit tests set their own tiny limits).
pub fn test_config(database_url: &str) -> Config {
    let flags = [
        ("--better-auth-secret", SECRET),
        ("--host", "127.0.0.1"),
        ("--port", "0"),
        ("--shutdown-drain-secs", "5"),
        ("--rate-limit-ip-per-sec", "0"),
        ("--rate-limit-user-per-sec", "0"),
    ];
    let settings = Settings::from_flags(flags.iter().flat_map(|(flag, value)| [*flag, *value])).unwrap();
    Config { database: database_config(database_url), ..Config::from_settings(&settings).unwrap() }
}

/// A running service over its own database.
pub struct TestApp {
    pub address: String,
    /// `/metrics`'s own address, when `METRICS_ADDR` is set.
    pub metrics_address: Option<String>,
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
    pub client: reqwest::Client,
    pub database: TestDatabase,
}

/// A Better Auth user with a live session.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub token: String,
}

impl TestUser {
    /// The `Cookie` header Better Auth's browser would send.
    pub fn cookie(&self) -> String {
        format!("better-auth.session_token={}", signed_cookie_value(SECRET, &self.token))
    }
}

/// `token.signature`, percent-encoded as Better Auth sets it in the cookie. Written
/// here independently of the service's code, and checked against the vectors there.
pub fn signed_cookie_value(secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    format!("{token}.{}", signature.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"))
}

/// `spawn_app()` with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the service on a random port over a fresh database.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(TestDatabase::new().await, adjust).await
}

/// Starts the service on a random port over `database`.
pub async fn spawn_app_on(database: TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        todo_graphql::observability::logs::init(None);
    }
    let mut config = test_config(&database.url);
    adjust(&mut config);
    let app = Application::build(&config).await.expect("the service starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    let statements = app.statements();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        db: database.connect().await,
        statements,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        database,
    }
}

/// 32 characters of `[A-Za-z0-9]`, as Better Auth's ids and tokens are.
pub fn random_id() -> String {
    use rand::{Rng as _, distr::Alphanumeric};
    rand::rng().sample_iter(Alphanumeric).take(32).map(char::from).collect()
}

impl TestApp {
    /// A user with a session that expires in a week, inserted as Better Auth would.
    pub async fn create_user(&self, name: &str) -> TestUser {
        self.create_user_with_session(name, Utc::now() + chrono::Duration::days(7)).await
    }

    /// A user whose session expires at `expires_at`.
    pub async fn create_user_with_session(&self, name: &str, expires_at: DateTime<Utc>) -> TestUser {
        let user = TestUser {
            id: random_id(),
            email: format!("{}-{}@example.com", name.to_lowercase(), &random_id()[..6]),
            token: random_id(),
        };
        let now = Utc::now().trunc_subsecs(3);
        self.execute(
            r#"INSERT INTO "user" (id, name, email, "emailVerified", image, "createdAt", "updatedAt")
               VALUES ($1, $2, $3, false, NULL, $4, $4)"#,
            [user.id.clone().into(), name.into(), user.email.clone().into(), now.into()],
        )
        .await;
        self.add_session(&user.id, &user.token, expires_at).await;
        user
    }

    /// Another session row for `user_id`.
    pub async fn add_session(&self, user_id: &str, token: &str, expires_at: DateTime<Utc>) {
        let now = Utc::now().trunc_subsecs(3);
        self.execute(
            r#"INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "ipAddress", "userAgent", "userId")
               VALUES ($1, $2, $3, $4, $4, '127.0.0.1', 'test', $5)"#,
            [random_id().into(), expires_at.trunc_subsecs(3).into(), token.into(), now.into(), user_id.into()],
        )
        .await;
    }

    /// Runs SQL on the test's database as the superuser.
    pub async fn execute<const N: usize>(&self, sql: &str, values: [sea_orm::Value; N]) {
        self.db.execute_raw(Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)).await.unwrap();
    }

    /// One value from SQL.
    pub async fn scalar<T: sea_orm::TryGetable, const N: usize>(&self, sql: &str, values: [sea_orm::Value; N]) -> T {
        let row = self.db.query_one_raw(statement(&self.db, sql, values)).await.unwrap().expect("a row");
        row.try_get_by_index(0).unwrap()
    }

    /// `POST /graphql` with a JSON body and Apollo's default headers.
    pub fn post(&self) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/graphql", self.address))
            .header("accept", "application/graphql-response+json, application/json;q=0.9")
    }

    /// A GraphQL operation as `user` (by cookie), answering the response body.
    pub async fn graphql(&self, user: Option<&TestUser>, query: &str, variables: Value) -> Value {
        let mut request = self.post().json(&json!({ "query": query, "variables": variables }));
        if let Some(user) = user {
            request = request.header("cookie", user.cookie());
        }
        let response = request.send().await.unwrap();
        response.json().await.unwrap()
    }

    /// A GraphQL query sent with one extra header (a cookie, a bearer), answering the body.
    pub async fn graphql_with(&self, header: (&str, &str), query: &str) -> Value {
        let response = self.post().header(header.0, header.1).json(&json!({ "query": query })).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// Creates a task through the API and answers it.
    pub async fn create_task(&self, user: &TestUser, title: &str) -> Value {
        let body = self
            .graphql(
                Some(user),
                "mutation($input: CreateTaskInput!) { createTask(input: $input) { id title description completed createdAt updatedAt } }",
                json!({ "input": { "title": title } }),
            )
            .await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        body["data"]["createTask"].clone()
    }

    /// `GET` a path of the service.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.unwrap()
    }
}

/// A statement for the test database's backend: `$1` placeholders become `?1` on
/// SQLite, so a test writes its SQL once.
fn statement<const N: usize>(db: &DatabaseConnection, sql: &str, values: [sea_orm::Value; N]) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Sqlite { sql.replace('$', "?") } else { sql.to_owned() };
    Statement::from_sql_and_values(backend, sql, values)
}

impl TestApp {
    /// Tasks of `user_id` inserted directly (not through the API), all stamped `at`.
    pub async fn insert_tasks(&self, user_id: &str, titles: impl IntoIterator<Item = String>, at: DateTime<Utc>) {
        use sea_orm::EntityTrait;
        let rows: Vec<entity::tasks::ActiveModel> = titles
            .into_iter()
            .map(|title| NewTask { title, ..NewTask::default() }.row(uuid::Uuid::new_v4(), user_id, at))
            .collect();
        entity::tasks::Entity::insert_many(rows).exec(&self.db).await.unwrap();
    }

    /// The stored row of a task, to show nothing changed.
    pub async fn task_row(&self, id: &Value) -> entity::tasks::Model {
        use sea_orm::EntityTrait;
        let id = uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
        entity::tasks::Entity::find_by_id(id).one(&self.db).await.unwrap().expect("the task exists")
    }
}

/// A Better Auth user with a day-long session, inserted over `db` as Better Auth
/// would (for tests that run the binary, with no [`TestApp`]).
pub async fn insert_user(db: &DatabaseConnection) -> TestUser {
    insert_user_with_token(db, &random_id()).await
}

/// [`insert_user`] with a session of a given token (one Better Auth signed, say).
pub async fn insert_user_with_token(db: &DatabaseConnection, token: &str) -> TestUser {
    let user = TestUser { id: random_id(), email: format!("{}@example.com", random_id()), token: token.to_owned() };
    db.execute_unprepared(&format!(
        r#"INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") VALUES ('{id}', 'Op', '{email}', true, now(), now());
           INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId") VALUES ('{sid}', now() + interval '1 day', '{token}', now(), now(), '{id}');"#,
        id = user.id,
        email = user.email,
        sid = random_id(),
        token = user.token,
    ))
    .await
    .unwrap();
    user
}

/// The `extensions.code` of the first error.
/// `count` users `u1`.. with a live session each, token `t1`.., inserted in one
/// statement and analysed: enough rows for PostgreSQL to plan as it would in use.
pub async fn insert_sessions(db: &DatabaseConnection, count: u32) {
    db.execute_unprepared(&format!(
        r#"INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
             SELECT 'u' || g, 'User ' || g, 'u' || g || '@example.com', false, now(), now()
             FROM generate_series(1, {count}) AS g;
           INSERT INTO session (id, token, "userId", "expiresAt", "createdAt", "updatedAt")
             SELECT 's' || g, 't' || g, 'u' || g, now() + interval '1 day', now(), now()
             FROM generate_series(1, {count}) AS g;
           ANALYZE "user"; ANALYZE session;"#
    ))
    .await
    .unwrap();
}

pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}"))
}

/// The `extensions.field` of the first error.
pub fn error_field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"].as_str().unwrap_or_else(|| panic!("no error field in {body}"))
}

/// Starts the service over `database`, connecting with another URL (another role).
pub async fn spawn_app_with_url(database: TestDatabase, url: &str) -> TestApp {
    let url = url.to_owned();
    spawn_app_on(database, move |config| config.database = database_config(&url)).await
}

/// Drops a role the test made, once its database is gone.
pub async fn drop_role(role: &str) {
    on_server(&format!("DROP ROLE IF EXISTS {role}")).await;
}

/// Runs SQL on the server's `postgres` database, as the superuser.
pub async fn on_server(sql: &str) {
    let admin = Database::connect(server().url("postgres")).await.unwrap();
    admin.execute_unprepared(sql).await.unwrap();
    admin.close().await.unwrap();
}

/// The service binary, with only the environment a test gives it.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_todo-graphql"));
    // Only what a test gives: no DATABASE_URL or secret from the developer's shell,
    // and no .env (the working directory has none).
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(env!("CARGO_TARGET_TMPDIR"));
    command
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary set to serve `database` on `127.0.0.1:port` with the test secret and
/// JSON logs; the caller adds its own settings and where the output goes.
pub fn serving(database: &TestDatabase, port: u16) -> Command {
    let mut command = binary();
    command
        .env("DATABASE_URL", &database.url)
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json");
    command
}

/// Waits until the service on `port` answers `/health`, failing the test after
/// `within` with what `log` says (the service's log, when the test kept one).
pub async fn wait_for_health(port: u16, within: Duration, log: impl Fn() -> String) {
    let started = std::time::Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{port}/health")).await.is_err() {
        assert!(started.elapsed() < within, "the binary did not start: {}", log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills the child when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
