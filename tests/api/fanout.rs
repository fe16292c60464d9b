//! The PostgreSQL fan-out of task changes: the NOTIFY each committed write sends
//! (and a rolled-back one never does), and the instance's LISTEN connection that
//! hands them to the hub. The events are watched at the hub and on a raw LISTEN
//! of the test's own, while the changes go through the real service's API; the
//! WebSocket on top is tested in `subscriptions`.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, Statement,
    sqlx::postgres::{PgListener, PgNotification},
};
use serde_json::{Value, json};
use todo_graphql::{
    config::DatabaseConfig,
    events::{
        ChangeKind, Hub, Subscription, TaskEvent,
        listen::{self, APPLICATION_NAME, Checks},
        notify::{self, CHANNEL, PAYLOAD_LIMIT},
    },
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, error_code, spawn_app};

const UPDATE: &str = "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }";
const TOGGLE: &str = "mutation($id: ID!) { toggleTask(id: $id) { id } }";
const DELETE: &str = "mutation($id: ID!) { deleteTask(id: $id) }";
const CREATE_ONCE: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }";
const CLEAR: &str = "mutation { clearCompletedTasks }";

/// Longest wait for something that happens at once unless broken: a bound, not a measure.
const BOUND: Duration = Duration::from_secs(10);

/// A raw LISTEN on the test database, as another instance would hold it.
async fn raw_listener(app: &TestApp) -> PgListener {
    let mut listener = PgListener::connect(&app.database.url).await.unwrap();
    listener.listen(CHANNEL).await.unwrap();
    listener
}

async fn next_notification(listener: &mut PgListener) -> PgNotification {
    tokio::time::timeout(BOUND, listener.recv()).await.expect("a NOTIFY arrives").unwrap()
}

async fn next_event(listener: &mut PgListener) -> TaskEvent {
    let notification = next_notification(listener).await;
    notify::decode(notification.payload()).expect("a task event")
}

fn event(kind: ChangeKind, user: &TestUser, id: &Value) -> TaskEvent {
    TaskEvent { kind, user_id: user.id.clone(), task_ids: vec![uuid(id)] }
}

fn uuid(id: &Value) -> Uuid {
    Uuid::parse_str(id.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn each_committed_change_sends_exactly_one_notify() {
    let app = spawn_app().await;
    let (alice, bob) = (app.create_user("alice").await, app.create_user("bob").await);
    let mut listener = raw_listener(&app).await;

    let id = app.create_task(&alice, "first").await["id"].clone();
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Created, &alice, &id));
    app.graphql(Some(&alice), UPDATE, json!({ "id": id, "input": { "title": "renamed" } })).await;
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Updated, &alice, &id));
    app.graphql(Some(&alice), TOGGLE, json!({ "id": id })).await;
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Updated, &alice, &id));

    // What changes nothing announces nothing: another user's attempts, an empty update.
    for (query, variables) in [(TOGGLE, json!({ "id": id })), (DELETE, json!({ "id": id }))] {
        let body = app.graphql(Some(&bob), query, variables).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    }
    app.graphql(Some(&alice), UPDATE, json!({ "id": id, "input": {} })).await;
    // A retried keyed create answers the task it made, and announces it once.
    let input = json!({ "input": { "title": "once", "clientMutationId": "k-1" } });
    let once = app.graphql(Some(&alice), CREATE_ONCE, input.clone()).await["data"]["createTask"]["id"].clone();
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Created, &alice, &once));
    assert_eq!(app.graphql(Some(&alice), CREATE_ONCE, input).await["data"]["createTask"]["id"], once);

    let body = app.graphql(Some(&alice), DELETE, json!({ "id": id })).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Deleted, &alice, &id));
    // Notifications arrive in commit order: the sentinel's comes next, so nothing
    // was sent in between.
    let sentinel = app.create_task(&bob, "sentinel").await["id"].clone();
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Created, &bob, &sentinel));
}

#[tokio::test]
async fn a_write_rolled_back_at_commit_sends_nothing() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let id = app.create_task(&alice, "kept").await["id"].clone();
    // Fails at COMMIT, after the write and its pg_notify ran in the transaction.
    app.execute(
        "CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN IF NEW.title = 'doomed' THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NEW; END $$",
        [],
    )
    .await;
    app.execute(
        "CREATE CONSTRAINT TRIGGER refuse_doomed AFTER INSERT OR UPDATE ON tasks \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_doomed()",
        [],
    )
    .await;
    let mut listener = raw_listener(&app).await;

    let created = app.graphql(Some(&alice), CREATE_ONCE, json!({ "input": { "title": "doomed" } })).await;
    assert_ne!(created["errors"], Value::Null, "{created}");
    let updated = app.graphql(Some(&alice), UPDATE, json!({ "id": id, "input": { "title": "doomed" } })).await;
    assert_ne!(updated["errors"], Value::Null, "{updated}");
    let count: i64 = app.scalar("SELECT count(*) FROM tasks WHERE title = 'doomed'", []).await;
    assert_eq!(count, 0, "both writes rolled back");

    let sentinel = app.create_task(&alice, "sentinel").await["id"].clone();
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Created, &alice, &sentinel));
}

#[tokio::test]
async fn clearing_many_completed_tasks_sends_every_id_in_payloads_under_the_limit() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    app.insert_tasks(&alice.id, (0..600).map(|i| format!("done {i}")), chrono::Utc::now()).await;
    app.insert_tasks(&alice.id, ["open".to_owned()], chrono::Utc::now()).await;
    app.execute("UPDATE tasks SET completed = true WHERE title LIKE 'done %'", []).await;
    let mut listener = raw_listener(&app).await;

    let body = app.graphql(Some(&alice), CLEAR, json!({})).await;
    assert_eq!(body["data"]["clearCompletedTasks"], 600, "{body}");

    let example = TaskEvent { kind: ChangeKind::Deleted, user_id: alice.id.clone(), task_ids: vec![Uuid::nil(); 600] };
    let chunks = notify::payloads(&example).unwrap().len();
    assert!(chunks > 1, "600 ids need more than one payload");
    let mut deleted = Vec::new();
    for _ in 0..chunks {
        let notification = next_notification(&mut listener).await;
        assert!(notification.payload().len() < PAYLOAD_LIMIT, "{} bytes", notification.payload().len());
        let event = notify::decode(notification.payload()).unwrap();
        assert_eq!((event.kind, event.user_id.as_str()), (ChangeKind::Deleted, alice.id.as_str()));
        deleted.extend(event.task_ids);
    }
    let left: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(left, 1, "only the open task is left");
    deleted.sort();
    deleted.dedup();
    assert_eq!(deleted.len(), 600, "each deleted id announced once");
    let sentinel = app.create_task(&alice, "sentinel").await["id"].clone();
    assert_eq!(next_event(&mut listener).await, event(ChangeKind::Created, &alice, &sentinel));
}

/// The pids of the LISTEN connections of the service on the test database.
async fn listen_connections(app: &TestApp) -> Vec<i32> {
    let sql = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 \
               AND state = 'idle' AND query LIKE 'LISTEN%'";
    let statement = Statement::from_sql_and_values(
        app.db.get_database_backend(),
        sql,
        [app.database.name.clone().into(), APPLICATION_NAME.into()],
    );
    let rows = app.db.query_all_raw(statement).await.unwrap();
    rows.iter().map(|row| row.try_get_by_index(0).unwrap()).collect()
}

/// Waits, up to [`BOUND`], until the LISTEN connections satisfy `wanted`.
async fn until_connections(app: &TestApp, what: &str, wanted: impl Fn(&[i32]) -> bool) -> Vec<i32> {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let pids = listen_connections(app).await;
        if wanted(&pids) {
            return pids;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: LISTEN connections are {pids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn received(subscription: &mut Subscription) -> Arc<TaskEvent> {
    within(subscription.next()).await.expect("the subscription stays open")
}

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future).await.expect("within the bound")
}

#[tokio::test]
async fn the_listen_connection_follows_subscribers_and_survives_termination() {
    let app = spawn_app().await;
    let (alice, bob) = (app.create_user("alice").await, app.create_user("bob").await);
    // A second instance's hub and LISTEN connection, beside the spawned service.
    let hub = Hub::new(false);
    let database =
        DatabaseConfig { listen_idle_close: Duration::from_millis(500), ..DatabaseConfig::new(&app.database.url) };
    let task = listen::spawn(hub.clone(), &database);

    // Nobody subscribed: no connection, even after a change went by.
    app.create_task(&alice, "before").await;
    assert_eq!(listen_connections(&app).await, Vec::<i32>::new());

    let (mut alices, mut bobs) = (hub.subscribe(&alice.id), hub.subscribe(&bob.id));
    let first = until_connections(&app, "opened for subscribers", |pids| !pids.is_empty()).await;
    assert_eq!(first.len(), 1, "one LISTEN connection for every subscriber");
    let id = app.create_task(&alice, "mine").await["id"].clone();
    assert_eq!(*received(&mut alices).await, event(ChangeKind::Created, &alice, &id));
    // Bob's subscription skips Alice's change: its next event is his own.
    let his = app.create_task(&bob, "his").await["id"].clone();
    assert_eq!(*received(&mut bobs).await, event(ChangeKind::Created, &bob, &his));

    app.execute("SELECT pg_terminate_backend($1)", [first[0].into()]).await;
    let second = until_connections(&app, "reopened", |pids| pids.len() == 1 && pids[0] != first[0]).await;
    assert_ne!(second, first);
    app.graphql(Some(&alice), TOGGLE, json!({ "id": id })).await;
    assert_eq!(*received(&mut alices).await, event(ChangeKind::Updated, &alice, &id), "the same subscription");

    drop((alices, bobs));
    until_connections(&app, "closed once idle", <[i32]>::is_empty).await;
    let mut again = hub.subscribe(&alice.id);
    until_connections(&app, "opened again", |pids| pids.len() == 1).await;
    app.graphql(Some(&alice), DELETE, json!({ "id": id })).await;
    assert_eq!(*received(&mut again).await, event(ChangeKind::Deleted, &alice, &id));
    task.abort();
}

/// A TCP proxy to the test's PostgreSQL whose open connections can be frozen:
/// kept open with nothing forwarded, as a network path lost without a reset looks.
struct Proxy {
    url: String,
    connections: Arc<std::sync::Mutex<Vec<Arc<AtomicBool>>>>,
}

impl Proxy {
    async fn start(database_url: &str) -> Self {
        let mut url = url::Url::parse(database_url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(listener.local_addr().unwrap().port())).unwrap();
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let open = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let frozen = Arc::new(AtomicBool::new(false));
                open.lock().unwrap().push(Arc::clone(&frozen));
                let ((client_read, client_write), (server_read, server_write)) =
                    (client.into_split(), server.into_split());
                tokio::spawn(pipe(client_read, server_write, Arc::clone(&frozen)));
                tokio::spawn(pipe(server_read, client_write, frozen));
            }
        });
        Self { url: url.to_string(), connections }
    }

    /// Freezes every connection open now; later ones are forwarded.
    fn freeze(&self) {
        for frozen in self.connections.lock().unwrap().iter() {
            frozen.store(true, Ordering::SeqCst);
        }
    }
}

async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, frozen: Arc<AtomicBool>) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if frozen.load(Ordering::SeqCst) {
            // Both ends stay open; nothing goes through any more.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_listen_connection_gone_silent_fails_its_check_and_is_replaced() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let proxy = Proxy::start(&app.database.url).await;
    let hub = Hub::new(false);
    let checks = Checks { every: Duration::from_millis(200), timeout: Duration::from_millis(500) };
    let task = listen::spawn_with_checks(hub.clone(), &DatabaseConfig::new(&proxy.url), checks);
    let mut alices = hub.subscribe(&alice.id);
    let first = until_connections(&app, "opened", |pids| pids.len() == 1).await;
    let id = app.create_task(&alice, "before").await["id"].clone();
    assert_eq!(*received(&mut alices).await, event(ChangeKind::Created, &alice, &id), "through the proxy");

    proxy.freeze();
    // The silent connection still looks fine to PostgreSQL; a second one joins it.
    until_connections(&app, "replaced", |pids| pids.iter().any(|pid| !first.contains(pid))).await;
    let id = app.create_task(&alice, "after").await["id"].clone();
    assert_eq!(*received(&mut alices).await, event(ChangeKind::Created, &alice, &id), "the same subscription");
    task.abort();
}
