//! The PostgreSQL fan-out of task changes: the NOTIFY each committed write sends
//! (and a rolled-back one never does), and the instance's LISTEN connection that
//! hands them to the hub. The events are watched at the hub and on a raw LISTEN
//! of the test's own, while the changes go through the real service's API; the
//! WebSocket on top is tested in `subscriptions`.

use std::{future::Future, sync::Arc, time::Duration};

use sea_orm::{
    ConnectionTrait, Statement,
    sqlx::postgres::{PgListener, PgNotification},
};
use serde_json::{Value, json};
use todo_graphql::{
    config::DatabaseConfig,
    events::{
        ChangeKind, Hub, Subscription, TaskEvent,
        listen::{self, APPLICATION_NAME},
        notify::{self, CHANNEL, PAYLOAD_LIMIT},
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
