//! What one request costs the database, counted twice: statements by the service's
//! own pool ([`StatementCounter`](todo_graphql::db::StatementCounter)), and round
//! trips on the wire by a proxy between the service and PostgreSQL, so that a ping
//! (a bare `Sync`), a `BEGIN` or a second acquire shows up too.
//!
//! A round trip is a frontend message the server answers with `ReadyForQuery`: a
//! `Sync` ('S', ending an extended-protocol exchange or alone as sqlx's ping) or a
//! simple `Query` ('Q'). The startup message is not one; TLS is off through the proxy,
//! so the messages can be read.
//!
//! What the pins below hold: no ping when a connection is taken from the pool (only
//! one idle for `PING_IF_IDLE_FOR` is pinged), one round trip per statement (each is
//! prepared once per pooled connection), and no ping when a connection goes back
//! owing nothing (the vendored sqlx, `vendor/README.md`); one that still owes a
//! response (its statement abandoned half-way) is pinged and drained as before.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::helpers::*;

/// PostgreSQL's `SSLRequest` and `GSSENCRequest` codes: the proxy cannot read past them.
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

/// A TCP proxy in front of PostgreSQL that counts round trips of every connection.
struct WireCounter {
    port: u16,
    round_trips: Arc<AtomicU64>,
}

impl WireCounter {
    async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = round_trips.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(upstream.clone()).await.unwrap();
                tokio::spawn(forward(client, server, counter.clone()));
            }
        });
        Self { port, round_trips }
    }

    fn get(&self) -> u64 {
        self.round_trips.load(Ordering::SeqCst)
    }
}

/// Copies the server's bytes back untouched, and the client's message by message,
/// counting `Sync` and `Query`.
async fn forward(client: TcpStream, server: TcpStream, round_trips: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    // The startup message: a length, then a protocol code, no type byte.
    let mut length = [0; 4];
    if client_read.read_exact(&mut length).await.is_err() {
        return;
    }
    let mut startup = vec![0; (u32::from_be_bytes(length) as usize).saturating_sub(4)];
    if client_read.read_exact(&mut startup).await.is_err() {
        return;
    }
    let code = u32::from_be_bytes(startup[..4].try_into().unwrap());
    assert!(!ENCRYPTION_REQUESTS.contains(&code), "the service asked for TLS through the counting proxy");
    if server_write.write_all(&length).await.is_err() || server_write.write_all(&startup).await.is_err() {
        return;
    }
    loop {
        let mut header = [0; 5];
        if client_read.read_exact(&mut header).await.is_err() {
            return;
        }
        if matches!(header[0], b'S' | b'Q') {
            round_trips.fetch_add(1, Ordering::SeqCst);
        }
        let length = u32::from_be_bytes(header[1..].try_into().unwrap()) as usize;
        let mut body = vec![0; length.saturating_sub(4)];
        if client_read.read_exact(&mut body).await.is_err() {
            return;
        }
        if server_write.write_all(&header).await.is_err() || server_write.write_all(&body).await.is_err() {
            return;
        }
    }
}

/// The tests' pool size (`helpers::database_config`): more warm-ups than connections.
const POOL_SIZE: usize = 5;

/// The service over a fresh database, connected through a [`WireCounter`].
async fn counted_app() -> (TestApp, WireCounter) {
    let database = TestDatabase::new().await;
    let mut url = url::Url::parse(&database.url).unwrap();
    let upstream = (url.host_str().unwrap().to_owned(), url.port().unwrap_or(5432));
    let proxy = WireCounter::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let app = spawn_app_with_url(database, url.as_str()).await;
    (app, proxy)
}

/// Statements and round trips of one request, run before on every pooled connection
/// (the pool hands out its idle connections in turn) so that its statements are
/// already prepared, as they are in use.
async fn cost(app: &TestApp, proxy: &WireCounter, user: &TestUser, query: &str, variables: Value) -> (u64, u64) {
    for _ in 0..POOL_SIZE {
        let warm = app.graphql(Some(user), query, variables.clone()).await;
        assert_eq!(warm["errors"], Value::Null, "{warm}");
    }
    let (statements, round_trips) = (app.statements.get(), proxy.get());
    let body = app.graphql(Some(user), query, variables).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    (app.statements.get() - statements, proxy.get() - round_trips)
}

#[tokio::test]
async fn the_tasks_page_is_one_statement_in_one_round_trip() {
    let (app, proxy) = counted_app().await;
    let ada = app.create_user("Ada").await;
    app.insert_tasks(&ada.id, (1..=30).map(|n| format!("task {n}")), chrono::Utc::now()).await;
    let page = "{ tasks(first: 20) { nodes { id title completed createdAt } } }";
    // The session lookup reads the page in the same statement, and the connection
    // goes back unpinged.
    assert_eq!(cost(&app, &proxy, &ada, page, json!({})).await, (1, 1));
    // With `me` beside it the session is looked up once, by whichever field asks
    // first: the page comes along or follows.
    let both = "{ me { id } tasks(first: 20) { nodes { id title } } }";
    let (statements, round_trips) = cost(&app, &proxy, &ada, both, json!({})).await;
    assert!(
        (1..=2).contains(&statements) && round_trips == statements,
        "{statements} statements, {round_trips} round trips"
    );
    // Signed in by a page's cursor, the next page is one statement too.
    let first = app.graphql(Some(&ada), "{ tasks(first: 20) { pageInfo { endCursor } } }", json!({})).await;
    let after = first["data"]["tasks"]["pageInfo"]["endCursor"].clone();
    let next = "query($after: String) { tasks(first: 20, after: $after) { nodes { title } } }";
    assert_eq!(cost(&app, &proxy, &ada, next, json!({ "after": after })).await, (1, 1));
}

#[tokio::test]
async fn me_is_one_statement_in_one_round_trip() {
    let (app, proxy) = counted_app().await;
    let ada = app.create_user("Ada").await;
    assert_eq!(cost(&app, &proxy, &ada, "{ me { id email } }", json!({})).await, (1, 1));
}

#[tokio::test]
async fn a_toggle_is_one_lookup_and_one_transaction() {
    let (app, proxy) = counted_app().await;
    let ada = app.create_user("Ada").await;
    let id = app.create_task(&ada, "Write the report").await["id"].clone();
    let toggle = "mutation($id: ID!) { toggleTask(id: $id) { id completed } }";
    // Statements: the session lookup, set_config, UPDATE … RETURNING, pg_notify. Round
    // trips: those four, BEGIN and COMMIT.
    assert_eq!(cost(&app, &proxy, &ada, toggle, json!({ "id": id })).await, (4, 6));
}

#[tokio::test]
async fn a_request_without_a_session_never_reaches_the_database() {
    let (app, proxy) = counted_app().await;
    let before = proxy.get();
    let body = app.graphql(None, "{ me { id } }", json!({})).await;
    assert_eq!(body["data"]["me"], Value::Null, "{body}");
    assert_eq!(proxy.get(), before, "no candidate token, no round trip");
}

/// The vendored pool's release rule, on a pool of one connection through the proxy:
/// a connection that read every answer goes back with no ping; one whose statement
/// was abandoned half-way (a request cut at its deadline, a client gone) is pinged,
/// which drains the answer, and the next statement on it reads its own answer.
#[tokio::test]
async fn only_a_connection_left_owing_an_answer_is_pinged_on_release() {
    use sea_orm::sqlx::postgres::PgPoolOptions;
    use std::time::Duration;

    let database = TestDatabase::new().await;
    let mut url = url::Url::parse(&database.url).unwrap();
    let proxy = WireCounter::start((url.host_str().unwrap().to_owned(), url.port().unwrap_or(5432))).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    url.query_pairs_mut().append_pair("sslmode", "disable");
    // No ping before acquire (sqlx's default), as the service has it for a busy pool.
    let pool = PgPoolOptions::new().max_connections(1).test_before_acquire(false).connect(url.as_str()).await.unwrap();
    // Both statements prepared first, so each run below is one round trip.
    assert_eq!(echo(&pool, 1).await, 1);
    sleep(&pool, 0.0).await.unwrap();

    let before = proxy.get();
    assert_eq!(echo(&pool, 2).await, 2);
    assert_eq!(proxy.get() - before, 1, "a settled connection goes back without a ping");

    let before = proxy.get();
    let abandoned = tokio::time::timeout(Duration::from_millis(50), sleep(&pool, 0.3)).await;
    assert!(abandoned.is_err(), "the statement was meant to be cut");
    // The release pings in the background, answered once the sleep ends: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while proxy.get() - before < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.get() - before, 2, "the abandoned statement, then the ping on release");
    assert_eq!(echo(&pool, 3).await, 3, "the connection reads its own answer next");
    assert_eq!(proxy.get() - before, 3);
}

async fn echo(pool: &sea_orm::sqlx::PgPool, n: i32) -> i32 {
    sea_orm::sqlx::query_scalar("SELECT $1::int4").bind(n).fetch_one(pool).await.unwrap()
}

async fn sleep(pool: &sea_orm::sqlx::PgPool, seconds: f64) -> Result<(), sea_orm::sqlx::Error> {
    sea_orm::sqlx::query("SELECT pg_sleep($1)").bind(seconds).execute(pool).await.map(|_| ())
}

/// The tasks page's statement (the session lookup with the page joined to it) is
/// planned once per connection and then kept: its generic plan is two index lookups
/// and a backward scan of the user's index, no sequential scan, and PostgreSQL
/// switches to it after its five custom plans. (With the row count bound as
/// `LIMIT $n`, the generic plan looked dearer than every custom one, and each
/// execution was planned anew.)
#[tokio::test]
async fn the_tasks_page_keeps_one_generic_plan_of_index_lookups() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    use todo_graphql::{
        config::BetterAuthSchema,
        db::{
            task::{self, Filter, Sort, SortField, Window},
            user::Users,
        },
    };

    let app = spawn_app().await;
    insert_sessions(&app.db, 2000).await;
    app.db
        .execute_unprepared(
            r#"INSERT INTO tasks (id, title, completed, user_id, created_at, updated_at)
                 SELECT gen_random_uuid(), 'task ' || g, false, 'u' || (1 + g % 2000),
                        now() - g * interval '1 second', now()
                 FROM generate_series(1, 100000) AS g;
               ANALYZE tasks;"#,
        )
        .await
        .unwrap();
    let users = Users::prepare(&app.db, &BetterAuthSchema::default()).await.unwrap();
    let tokens = ["t1".to_owned()];
    let sort = Sort { field: SortField::CreatedAt, descending: true };
    let window = Window { after: None, before: None, limit: 20, from_end: false };
    let statement = task::page_of_session_statement(
        users.session_lookup(&tokens, chrono::Utc::now()).unwrap(),
        &Filter::default(),
        sort,
        &window,
    );
    let values = statement.values.as_ref().map(|values| values.0.len()).unwrap_or_default();
    assert_eq!(values, 2, "now and the token: {}", statement.sql);
    // One connection for PREPARE, EXECUTE and EXPLAIN: a transaction holds it.
    let transaction = app.db.begin().await.unwrap();
    let run = |sql: String| Statement::from_string(DbBackend::Postgres, sql);
    transaction.execute_unprepared(&format!("PREPARE page AS {}", statement.sql)).await.unwrap();
    for _ in 0..8 {
        let rows = transaction.query_all_raw(run("EXECUTE page(now(), 't1')".into())).await.unwrap();
        assert_eq!(rows.len(), 21, "the window and one past it");
    }
    let plans = transaction
        .query_one_raw(run("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'page'".into()))
        .await
        .unwrap()
        .unwrap();
    let (generic, custom): (i64, i64) = (plans.try_get_by_index(0).unwrap(), plans.try_get_by_index(1).unwrap());
    assert!(generic >= 3 && custom <= 5, "{generic} generic plans, {custom} custom plans");
    transaction.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.unwrap();
    let rows = transaction.query_all_raw(run("EXPLAIN EXECUTE page(now(), 't1')".into())).await.unwrap();
    let plan: Vec<String> = rows.iter().map(|row| row.try_get_by_index::<String>(0).unwrap()).collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("Index Scan Backward using ix_tasks_user_id_created_at_id"), "{plan}");
    transaction.rollback().await.unwrap();
}
