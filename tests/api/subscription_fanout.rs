//! Two instances on one PostgreSQL database: a mutation through one reaches the
//! subscribers on the other, through NOTIFY and each instance's LISTEN connection.

use serde_json::{Value, json};

use crate::{helpers::*, subscriptions::*};

async fn change(ws: &mut Ws, id: &str) -> Value {
    let message = next_json(ws).await;
    assert_eq!((message["type"].as_str(), message["id"].as_str()), (Some("next"), Some(id)), "{message}");
    message["payload"]["data"]["taskChanged"].clone()
}

#[tokio::test]
async fn a_mutation_through_a_reaches_subscribers_on_b_by_cookie_and_by_bearer() {
    let database = TestDatabase::new().await;
    let a = spawn_app_on(database.alias(), |_| {}).await;
    let b = spawn_app_on(database, |_| {}).await;
    let ada = a.create_user("Ada").await;
    let bob = a.create_user("Bob").await;
    let mut by_cookie = subscribed(&b, &ada, "c").await;
    let mut by_bearer = connect(&b, "graphql-transport-ws", &[]).await;
    init(&mut by_bearer, json!({ "authorization": format!("Bearer {}", ada.token) })).await;
    subscribe(&mut by_bearer, "b").await;
    listening(&b).await;
    let mut bobs = subscribed(&b, &bob, "x").await;

    let task = a.create_task(&ada, "Across").await;
    let id = task["id"].as_str().unwrap();
    let toggle = "mutation($id: ID!) { toggleTask(id: $id) { id } }";
    assert_eq!(a.graphql(Some(&ada), toggle, json!({ "id": id })).await["errors"], Value::Null);
    assert_eq!(a.graphql(Some(&ada), "mutation { clearCompletedTasks }", json!({})).await["errors"], Value::Null);
    for (ws, sid) in [(&mut by_cookie, "c"), (&mut by_bearer, "b")] {
        let kinds = [change(ws, sid).await, change(ws, sid).await, change(ws, sid).await];
        let kinds: Vec<_> = kinds.iter().map(|c| (c["kind"].as_str().unwrap().to_owned(), c["id"].clone())).collect();
        assert_eq!(
            kinds,
            [("CREATED".to_owned(), json!(id)), ("UPDATED".to_owned(), json!(id)), ("DELETED".to_owned(), json!(id))],
        );
    }
    // Bob's first event is his own.
    let his = a.create_task(&bob, "Bob's").await;
    assert_eq!(change(&mut bobs, "x").await["id"], his["id"]);
}

#[tokio::test]
async fn a_terminated_listen_connection_is_replaced_and_the_socket_never_closes() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mut ws = subscribed(&app, &ada, "s").await;
    let first: i32 = app.scalar(LISTENING, []).await;
    app.execute("SELECT pg_terminate_backend($1)", [first.into()]).await;

    // The instance reconnects by itself (with backoff); the socket stays open meanwhile.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now: Vec<i32> = {
            use sea_orm::ConnectionTrait as _;
            let statement = sea_orm::Statement::from_string(app.db.get_database_backend(), LISTENING);
            let rows = app.db.query_all_raw(statement).await.unwrap();
            rows.iter().map(|row| row.try_get_by_index(0).unwrap()).collect()
        };
        if now.len() == 1 && now[0] != first {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no new LISTEN connection within 15 s: {now:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let task = app.create_task(&ada, "After the reconnect").await;
    assert_eq!(change(&mut ws, "s").await["id"], task["id"], "the same socket and subscription");
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut ws).await, json!({ "type": "pong" }), "never closed");
}
