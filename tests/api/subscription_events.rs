//! `taskChanged` end to end: a mutation over HTTP reaches the WebSocket subscribers
//! of the same user, of each kind, by cookie and by `connection_init` bearer, over
//! both subprotocols, and never anyone else's. On SQLite the hub is in-process; on
//! PostgreSQL events arrive through NOTIFY and the LISTEN connection.

use serde_json::{Value, json};

use crate::{helpers::*, subscriptions::*};

/// A `next` message's change, checked to belong to subscription `id`.
async fn change(ws: &mut Ws, id: &str) -> Value {
    let message = next_json(ws).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], id, "{message}");
    assert_eq!(message["payload"]["errors"], Value::Null, "{message}");
    message["payload"]["data"]["taskChanged"].clone()
}

async fn mutate(app: &TestApp, user: &TestUser, query: &str, variables: Value) -> Value {
    let body = app.graphql(Some(user), query, variables).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn every_kind_of_change_reaches_a_cookie_subscriber() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mut ws = subscribed(&app, &ada, "s1").await;

    let task = app.create_task(&ada, "Write the tests").await;
    let id = task["id"].as_str().unwrap();
    let created = change(&mut ws, "s1").await;
    assert_eq!(
        created,
        json!({ "kind": "CREATED", "id": id, "task": { "id": id, "title": "Write the tests", "completed": false } })
    );

    mutate(
        &app,
        &ada,
        "mutation($id: ID!) { updateTask(id: $id, input: { title: \"Renamed\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
    let updated = change(&mut ws, "s1").await;
    assert_eq!((updated["kind"].as_str(), updated["task"]["title"].as_str()), (Some("UPDATED"), Some("Renamed")));

    mutate(&app, &ada, "mutation($id: ID!) { toggleTask(id: $id) { id } }", json!({ "id": id })).await;
    let toggled = change(&mut ws, "s1").await;
    assert_eq!((toggled["kind"].as_str(), toggled["task"]["completed"].as_bool()), (Some("UPDATED"), Some(true)));

    mutate(&app, &ada, "mutation($id: ID!) { deleteTask(id: $id) }", json!({ "id": id })).await;
    assert_eq!(change(&mut ws, "s1").await, json!({ "kind": "DELETED", "id": id, "task": null }));

    // clearCompletedTasks: one DELETED per task.
    let mut done = Vec::new();
    for title in ["a", "b"] {
        let task = app.create_task(&ada, title).await;
        let id = task["id"].as_str().unwrap().to_owned();
        assert_eq!(change(&mut ws, "s1").await["kind"], "CREATED");
        mutate(&app, &ada, "mutation($id: ID!) { toggleTask(id: $id) { id } }", json!({ "id": id })).await;
        assert_eq!(change(&mut ws, "s1").await["kind"], "UPDATED");
        done.push(id);
    }
    let cleared = mutate(&app, &ada, "mutation { clearCompletedTasks }", json!({})).await;
    assert_eq!(cleared["clearCompletedTasks"], 2);
    let mut deleted = Vec::new();
    for _ in 0..2 {
        let change = change(&mut ws, "s1").await;
        assert_eq!((change["kind"].as_str(), &change["task"]), (Some("DELETED"), &Value::Null));
        deleted.push(change["id"].as_str().unwrap().to_owned());
    }
    deleted.sort();
    done.sort();
    assert_eq!(deleted, done);
}

#[tokio::test]
async fn a_connection_init_bearer_subscriber_gets_events_and_a_failed_mutation_sends_none() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mut ws = connect(&app, "graphql-transport-ws", &[]).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {}", ada.token) })).await;
    subscribe(&mut ws, "b").await;
    listening(&app).await;

    // Refused input, and an unknown task: nothing written, nothing announced.
    let refused = app.graphql(Some(&ada), "mutation { createTask(input: { title: \"  \" }) { id } }", json!({})).await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT");
    let missing = "mutation { toggleTask(id: \"00000000-0000-7000-8000-000000000000\") { id } }";
    assert_eq!(error_code(&app.graphql(Some(&ada), missing, json!({})).await), "NOT_FOUND");
    // The first event to arrive is the next successful write's.
    let task = app.create_task(&ada, "Counted").await;
    let first = change(&mut ws, "b").await;
    assert_eq!((first["kind"].as_str(), first["id"].as_str()), (Some("CREATED"), task["id"].as_str()));
}

#[tokio::test]
async fn a_user_never_receives_another_users_changes() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    let mut ada_ws = subscribed(&app, &ada, "a").await;
    let mut bob_ws = subscribed(&app, &bob, "b").await;
    let adas = app.create_task(&ada, "Ada's secret").await;
    mutate(&app, &ada, "mutation { clearCompletedTasks }", json!({})).await;
    assert_eq!(change(&mut ada_ws, "a").await["id"], adas["id"]);
    // Bob's first event is his own, though Ada's were published before it.
    let bobs = app.create_task(&bob, "Bob's").await;
    let first = change(&mut bob_ws, "b").await;
    assert_eq!(first["id"], bobs["id"], "Bob received {first}");
    assert_eq!(first["task"]["title"], "Bob's");
}

#[tokio::test]
async fn the_legacy_subprotocol_acks_starts_and_sends_data() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mut ws = connect(&app, "graphql-ws", &[("cookie", &ada.cookie())]).await;
    init(&mut ws, json!({})).await;
    send(&mut ws, json!({ "type": "start", "id": "1", "payload": { "query": TASK_CHANGED } })).await;
    // The legacy protocol has no ping: a refused `start` after it is the barrier.
    send(&mut ws, json!({ "type": "start", "id": "2", "payload": { "query": "subscription {" } })).await;
    let refused = next_json(&mut ws).await;
    assert_eq!((refused["type"].as_str(), refused["id"].as_str()), (Some("error"), Some("2")), "{refused}");
    listening(&app).await;
    let task = app.create_task(&ada, "Legacy").await;
    let data = next_json(&mut ws).await;
    assert_eq!(data["type"], "data", "{data}");
    assert_eq!(data["id"], "1");
    assert_eq!(data["payload"]["data"]["taskChanged"]["id"], task["id"]);
    send(&mut ws, json!({ "type": "stop", "id": "1" })).await;
    send(&mut ws, json!({ "type": "connection_terminate" })).await;
}
